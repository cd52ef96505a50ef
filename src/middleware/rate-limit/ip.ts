import type { Request, RequestHandler } from 'express';
import { rateLimit, type Store } from 'express-rate-limit';
import { z } from 'zod';
import type { AuditLogger } from '../../audit/types.js';
import { parseOptions, service } from '../../core/options.js';
import { ErrorCode } from '../../errors/codes.js';
import { GuardError } from '../../errors/guard-error.js';
import type { GuardMetrics } from '../../metrics/guard-metrics.js';
import { requestActor } from '../context.js';

const optionsSchema = z.strictObject({
  limit: z.number().int().positive(),
  windowMs: z.number().int().positive(),
  store: service<Store>().optional(),
  audit: service<AuditLogger>(),
  metrics: service<GuardMetrics>().optional(),
});

/** Options of {@link createIpRateLimit}. */
export interface IpRateLimitOptions {
  /** Requests allowed per client IP per window. */
  limit: number;
  /** Window length in ms. */
  windowMs: number;
  /** express-rate-limit store; default its in-memory store. Use one store per limiter. */
  store?: Store;
  audit: AuditLogger;
  metrics?: GuardMetrics;
}

/**
 * Per-client-IP rate limit (express-rate-limit), placed before authentication
 * so floods are cut before any credential work. A refusal is 429 with
 * `Retry-After` and `RateLimit-*` headers, an audit event and a metric. The client
 * IP is `req.ip`: set Express's `trust proxy` only for proxies you run.
 *
 * @example app.use(createIpRateLimit({ limit: 300, windowMs: 60_000, audit }));
 */
export function createIpRateLimit(options: IpRateLimitOptions): RequestHandler {
  const { limit, windowMs, store, audit, metrics } = parseOptions('createIpRateLimit', optionsSchema, options);
  return rateLimit({
    windowMs,
    limit,
    // The limit's headers go with a refusal only (below): on every answered request they would
    // cost four headers and tell any client the exact budget of its address.
    standardHeaders: false,
    legacyHeaders: false,
    ...(store ? { store } : {}),
    // mcp-guard checks the proxy settings at start-up (MCP_TRUST_PROXY, posture warnings) and
    // never trusts X-Forwarded-For unless told to; these run-time checks would only log later.
    validate: { trustProxy: false, xForwardedForHeader: false },
    handler: async (req, res, next) => {
      const resetTime = (req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime?.getTime() ?? Date.now() + windowMs;
      res.removeHeader('Retry-After');
      next(await ipLimitRefusal(req, { limit, audit, metrics }, resetTime - Date.now()));
    },
  });
}

/** The 429 of a client IP past its limit: metric, audit event, then the error to pass to `next`. */
export async function ipLimitRefusal(
  req: Request,
  options: { limit: number; audit: AuditLogger; metrics?: GuardMetrics | undefined },
  resetMs: number,
): Promise<GuardError> {
  const retryAfter = Math.max(1, Math.ceil(resetMs / 1000));
  options.metrics?.rateLimitHits.inc({ scope: 'ip', tool: '' });
  try {
    await options.audit.record({
      type: 'ratelimit.hit',
      action: `${req.method} ${req.baseUrl}${req.path}`.slice(0, 256),
      ...requestActor(req),
      outcome: { status: 'denied', code: ErrorCode.RateLimited },
      details: { scope: 'ip' },
    });
  } catch {
    // The request is refused either way; the write failure is counted by the audit logger.
  }
  return new GuardError(ErrorCode.RateLimited, 'Too many requests', {
    retryAfter,
    headers: { 'RateLimit-Limit': String(options.limit), 'RateLimit-Remaining': '0', 'RateLimit-Reset': String(retryAfter) },
  });
}
