import { z } from 'zod';

/**
 * The four rate-limit levels, described here and nowhere else in the code:
 * what each counts, where in the request's path it is checked, its default
 * and the environment variables that set it. The environment schema, the
 * library's defaults, the limit file and the gateway file take their values
 * and shapes from this module; docs/configuration.md › "Rate limits" is the
 * one page that describes them to users (a test keeps it in step).
 */

/** A token bucket: `burst` requests at once, refilled at `perMinute`. */
export interface BucketLimit {
  perMinute: number;
  burst: number;
}

/** The largest values a bucket may be given (anywhere: environment, limit file, gateway file, library). */
export const BUCKET_MAX = { perMinute: 100_000_000, burst: 10_000_000 } as const;

/** The shape of a bucket in the limit file, the gateway file and the library's options. */
export const bucketLimitSchema = z.strictObject({
  perMinute: z.number().positive().max(BUCKET_MAX.perMinute),
  burst: z.number().int().positive().max(BUCKET_MAX.burst),
});

/** A fixed window per client address (express-rate-limit). */
export interface WindowLimit {
  limit: number;
  windowMs: number;
}

interface Level<Default> {
  /** What one counter is kept for. */
  readonly counts: string;
  /** Where in the request's path it is checked. */
  readonly checked: string;
  readonly default: Default;
  /** The environment variables of the reference server that set it. */
  readonly env: readonly string[];
}

export const LIMIT_LEVELS: {
  readonly ip: Level<WindowLimit>;
  readonly global: Level<BucketLimit>;
  readonly principal: Level<BucketLimit>;
  readonly tool: Level<BucketLimit>;
} = {
  ip: {
    counts: 'requests of one client address in a fixed window',
    checked:
      'before authentication, so floods are cut before any credential work (on Redis: in the one round trip after it, a client past it then refused before it)',
    default: { limit: 300, windowMs: 60_000 },
    env: ['MCP_RATE_LIMIT', 'MCP_RATE_LIMIT_WINDOW'],
  },
  global: {
    counts: 'requests of all clients together (a ceiling that protects the MCP server)',
    checked: 'before authentication, after the per-IP limit (on Redis: in the same round trip)',
    default: { perMinute: 120_000, burst: 2_000 },
    env: ['MCP_RATE_LIMIT_GLOBAL', 'MCP_RATE_LIMIT_GLOBAL_BURST'],
  },
  principal: {
    counts: 'requests of one principal, from whatever address they come',
    checked: 'right after authentication',
    default: { perMinute: 600, burst: 60 },
    env: ['MCP_RATE_LIMIT_PRINCIPAL', 'MCP_RATE_LIMIT_PRINCIPAL_BURST'],
  },
  tool: {
    counts: 'calls of one tool by one principal (each tools/call of a batch counts)',
    checked: 'from the routing headers before the body, else after parsing; every call is counted once',
    default: { perMinute: 300, burst: 30 },
    env: ['MCP_RATE_LIMIT_TOOL', 'MCP_RATE_LIMIT_TOOL_BURST'],
  },
};
