import { z } from 'zod';

/** A zod schema for a function-valued option (callbacks, resolvers, injected services). */
export function fn<T>() {
  return z.custom<T>((value) => typeof value === 'function', { message: 'must be a function' });
}

/** A zod schema for an injected object (a logger, a store, a metrics set). */
export function service<T>() {
  return z.custom<T>((value) => value !== null && typeof value === 'object', { message: 'must be an object' });
}

/**
 * Parses factory options with a strict schema and reports problems as one
 * start-up error naming the factory; never echoes option values.
 */
export function parseOptions<S extends z.ZodType>(factory: string, schema: S, options: unknown): z.output<S> {
  const result = schema.safeParse(options ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(options)'}: ${issue.message}`);
  throw new TypeError(`${factory}: invalid options: ${problems.join('; ')}`);
}
