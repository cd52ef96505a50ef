import type { RequestHandler } from 'express';
import { z } from 'zod';
import { parseOptions, service } from '../core/options.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { guardState } from './context.js';

const optionsSchema = z.strictObject({ metrics: service<GuardMetrics>(), route: z.string().optional() });

/** Options of {@link createHttpMetrics}. */
export interface HttpMetricsOptions {
  metrics: GuardMetrics;
  /** Route label when a handler does not set `req.guard.route`. Default `other`. */
  route?: string;
}

const METHODS = new Set(['GET', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PUT', 'PATCH']);

/**
 * Counts every response and its duration by method, route label and status.
 * Labels are bounded: unknown methods are `other`, and routes are labels the
 * app chose, never raw paths.
 */
export function createHttpMetrics(options: HttpMetricsOptions): RequestHandler {
  const { metrics, route = 'other' } = parseOptions('createHttpMetrics', optionsSchema, options);
  return function httpMetrics(req, res, next) {
    const state = guardState(req);
    res.once('finish', () => {
      const method = METHODS.has(req.method) ? req.method : 'other';
      const label = state.route ?? route;
      metrics.httpRequests.inc({ method, route: label, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method, route: label }, Number(process.hrtime.bigint() - state.startedAt) / 1e9);
    });
    next();
  };
}
