import { z } from 'zod';

// Building blocks for environment variables. Every value arrives as a string
// (or undefined: empty strings are turned into undefined before parsing).

/** A boolean variable: true/false, 1/0, yes/no, on/off. */
export const envBool = (fallback: boolean) =>
  z
    .stringbool({ truthy: ['true', '1', 'yes', 'on'], falsy: ['false', '0', 'no', 'off'] })
    .optional()
    .transform((value) => value ?? fallback);

/** An integer variable within bounds. */
export const envInt = (fallback: number, min: number, max: number) =>
  z.coerce
    .number()
    .int()
    .min(min)
    .max(max)
    .optional()
    .transform((value) => value ?? fallback);

/** A comma-separated list; blanks dropped. */
export const envList = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, ms: 1 };

/** Parses `1500`, `1500ms`, `30s`, `15m`, `12h`, `7d` into milliseconds; NaN when malformed. */
export function parseDuration(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) return Number.NaN;
  return Number(match[1]) * (UNITS[match[2] ?? 'ms'] ?? 1);
}

/** A duration variable (`30s`, `15m`, `12h`, or milliseconds) within bounds, in milliseconds. */
export const envDuration = (fallbackMs: number, minMs: number, maxMs: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return fallbackMs;
      const ms = parseDuration(value);
      if (!Number.isFinite(ms)) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration such as 500ms, 30s, 15m, 12h or 7d' });
        return z.NEVER;
      }
      if (ms < minMs || ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `must be between ${minMs}ms and ${maxMs}ms` });
        return z.NEVER;
      }
      return ms;
    });

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };

/** A byte size variable (`512kb`, `1mb`, or bytes) within bounds, in bytes. */
export const envBytes = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return fallback;
      const match = /^(\d+)\s*(b|kb|mb)?$/i.exec(value.trim());
      const bytes = match ? Number(match[1]) * (SIZE_UNITS[(match[2] ?? 'b').toLowerCase()] ?? 1) : Number.NaN;
      if (!Number.isFinite(bytes) || bytes < min || bytes > max) {
        ctx.addIssue({ code: 'custom', message: `must be a size between ${min} and ${max} bytes (for example 512kb or 1mb)` });
        return z.NEVER;
      }
      return bytes;
    });

/** Description that marks a variable as a secret: readable from `NAME_FILE`, never echoed. */
export const SECRET = 'secret';

/** A secret: checked for length but never echoed in an error message; also read from `NAME_FILE`. */
export const envSecret = (minLength: number) =>
  z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      if (value !== undefined && value.length < minLength) {
        ctx.addIssue({ code: 'custom', message: `must be at least ${minLength} characters long` });
      }
    })
    .describe(SECRET);
