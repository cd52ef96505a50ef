import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import type { AuditLogger } from '../../audit/types.js';
import { parseOptions, service } from '../../core/options.js';
import { ErrorCode } from '../../errors/codes.js';
import { GuardError } from '../../errors/guard-error.js';
import type { Logger } from '../../logging/logger.js';
import { describeError } from '../../logging/redact.js';
import type { GuardMetrics } from '../../metrics/guard-metrics.js';
import type { BucketSpec, StateStore } from '../../stores/types.js';
import { requestActor } from '../context.js';
import { bucketLimitSchema, type BucketLimit } from './levels.js';

export type { BucketLimit } from './levels.js';

const common = {
  store: service<StateStore>(),
  audit: service<AuditLogger>(),
  metrics: service<GuardMetrics>().optional(),
  logger: service<Logger>().optional(),
};

interface Common {
  /** Where buckets live: memory, or Redis shared by every replica. */
  store: StateStore;
  audit: AuditLogger;
  metrics?: GuardMetrics;
  logger?: Logger;
}

/** Which bucket refused. */
export type Scope = 'principal' | 'tool' | 'global';

/** The refusal of a store that failed even after its own fallback: refuse rather than let floods through. */
export function storeFailure(common: Pick<Common, 'logger'>, scope: string, error: unknown): GuardError {
  common.logger?.error('rate-limit store failed', { scope, error: describeError(error) });
  return new GuardError(ErrorCode.Unavailable, 'Rate limiting is temporarily unavailable');
}

/** The 429 of a bucket that refused: metric, audit event, then the error to pass to `next`. */
export async function bucketRefusal(
  req: Request,
  common: Pick<Common, 'audit' | 'metrics'>,
  scope: Scope,
  limit: BucketLimit,
  retryAfterMs: number,
  tool = '',
): Promise<GuardError> {
  const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
  common.metrics?.rateLimitHits.inc({ scope, tool });
  try {
    await common.audit.record({
      type: 'ratelimit.hit',
      action: `${req.method} ${req.baseUrl}${req.path}`.slice(0, 256),
      ...requestActor(req),
      outcome: { status: 'denied', code: ErrorCode.RateLimited },
      details: { scope, ...(tool ? { tool } : {}) },
    });
  } catch {
    // Refused either way; the audit logger counts its own failures.
  }
  return new GuardError(ErrorCode.RateLimited, 'Too many requests', {
    retryAfter,
    headers: { 'RateLimit-Limit': String(limit.burst), 'RateLimit-Remaining': '0', 'RateLimit-Reset': String(retryAfter) },
  });
}

/** The bucket parameters of a limit. */
export const bucketSpec = (limit: BucketLimit): BucketSpec => ({ capacity: limit.burst, refillPerMs: limit.perMinute / 60_000 });

/** Takes one token; undefined when allowed, else the refusal to pass to `next`. */
async function takeOrRefuse(
  req: Request,
  common: Common,
  scope: Scope,
  key: string,
  limit: BucketLimit,
  tool = '',
): Promise<GuardError | undefined> {
  let result;
  try {
    result = await common.store.take(key, bucketSpec(limit));
  } catch (error) {
    return storeFailure(common, scope, error);
  }
  return result.allowed ? undefined : bucketRefusal(req, common, scope, limit, result.retryAfterMs, tool);
}

const principalSchema = z.strictObject({ ...common, limit: bucketLimitSchema });

/** Options of {@link createPrincipalRateLimit}. */
export interface PrincipalRateLimitOptions extends Common {
  limit: BucketLimit;
}

/**
 * Per-principal token bucket, after authentication: each principal may send
 * `burst` requests at once and `perMinute` on average, across every replica
 * sharing the store. A refusal is 429 with `Retry-After` (a JSON-RPC error
 * with `retryAfter` on `/mcp`), an audit event and a metric.
 *
 * @example router.use(authenticate, createPrincipalRateLimit({ store, limit: { perMinute: 600, burst: 60 }, audit }));
 */
export function createPrincipalRateLimit(options: PrincipalRateLimitOptions): RequestHandler {
  const parsed = parseOptions('createPrincipalRateLimit', principalSchema, options);
  return async function principalRateLimit(req, _res, next) {
    const principal = req.guard?.principal;
    if (!principal) return next();
    next(await takeOrRefuse(req, parsed, 'principal', `rl:principal:${principal.id}`, parsed.limit));
  };
}

const toolSchema = z.strictObject({
  ...common,
  defaultLimit: bucketLimitSchema.optional(),
  tools: z.record(z.string(), bucketLimitSchema).default({}),
});

/** Options of {@link createToolRateLimit}. */
export interface ToolRateLimitOptions extends Common {
  /** Limit of each tool without an override; absent: only overridden tools are limited. */
  defaultLimit?: BucketLimit;
  /** Per-tool overrides, e.g. `{ kv_set: { perMinute: 10, burst: 2 } }`. */
  tools?: Record<string, BucketLimit>;
}

/** Names of the tools called by a JSON-RPC body (a message or a batch). */
export function calledTools(body: unknown): string[] {
  const messages = Array.isArray(body) ? body : [body];
  const names: string[] = [];
  for (const message of messages) {
    const { method, params } = (message ?? {}) as { method?: unknown; params?: { name?: unknown } };
    if (method === 'tools/call' && typeof params?.name === 'string') names.push(params.name);
  }
  return names;
}

/**
 * Per-principal-and-tool token bucket on `tools/call` (each call of a batch
 * counts), after authentication. Mounted twice: before the body is parsed it
 * takes the token of the tool a 2026-07-28 request's `Mcp-Name` names (an
 * early refusal; the body is later verified to name the same tool), after
 * the body it takes the tokens of requests not counted yet. Each call is
 * counted once.
 *
 * @example router.use(createToolRateLimit({ store, tools: { kv_set: { perMinute: 10, burst: 2 } }, audit }));
 */
export function createToolRateLimit(options: ToolRateLimitOptions): RequestHandler {
  // Only tools the caller may call reach this point (authorization runs first), so keys stay bounded.
  const parsed = parseOptions('createToolRateLimit', toolSchema, options);
  const { defaultLimit, tools } = parsed;
  return async function toolRateLimit(req, _res, next) {
    const guard = req.guard;
    const principal = guard?.principal;
    if (!principal || !guard || req.method !== 'POST' || guard.toolLimitTaken || guard.earlyRefusal) return next();
    const early = !guard.mcp;
    let called: string[];
    if (!early) called = calledTools(req.body);
    else if (guard.routing?.method === 'tools/call' && guard.routing.name !== undefined) called = [guard.routing.name];
    else return next(); // before the body, with nothing claimed: counted once the body is known
    guard.toolLimitTaken = true;
    for (const tool of called) {
      const limit = Object.hasOwn(tools, tool) ? tools[tool] : defaultLimit;
      if (!limit) continue;
      const refusal = await takeOrRefuse(req, parsed, 'tool', `rl:tool:${principal.id}:${tool}`, limit, tool.slice(0, 128));
      if (!refusal) continue;
      // Before the body the refusal waits for it, to carry the request's id (see createAuthorize).
      if (early) guard.earlyRefusal = { error: refusal };
      return next(early ? undefined : refusal);
    }
    next();
  };
}

const globalSchema = z.strictObject({ ...common, limit: bucketLimitSchema });

/** Options of {@link createGlobalRateLimit}. */
export interface GlobalRateLimitOptions extends Common {
  limit: BucketLimit;
}

/**
 * One bucket for all clients together, a ceiling that protects the MCP server
 * behind the stack (shared by every replica when the store is).
 *
 * @example router.use(createGlobalRateLimit({ store, limit: { perMinute: 120_000, burst: 2_000 }, audit }));
 */
export function createGlobalRateLimit(options: GlobalRateLimitOptions): RequestHandler {
  const parsed = parseOptions('createGlobalRateLimit', globalSchema, options);
  return async function globalRateLimit(req, _res, next) {
    next(await takeOrRefuse(req, parsed, 'global', 'rl:global', parsed.limit));
  };
}
