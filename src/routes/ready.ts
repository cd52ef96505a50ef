import type { RequestHandler } from 'express';

/** One dependency's state as `/ready` reports it. */
export interface ReadinessCheck {
  /** `ok`, `degraded` (serving with a fallback), or `down` (required and failing). */
  status: 'ok' | 'degraded' | 'down';
  detail?: string;
}

/** Options of {@link createReadyRoute}. */
export interface ReadyRouteOptions {
  /** `starting`, `ready` or `stopping`: only `ready` can answer 200. */
  phase(): 'starting' | 'ready' | 'stopping';
  /** Current dependency checks, by name (probes may take up to their deadline). A `down` check makes the server not ready. */
  checks(): Record<string, ReadinessCheck> | Promise<Record<string, ReadinessCheck>>;
}

/**
 * `GET /ready`: readiness for a load balancer. 503 while starting, while
 * shutting down, or when a required dependency (for example the audit log) is
 * down; `degraded` dependencies are reported but keep the server ready.
 */
export function createReadyRoute(options: ReadyRouteOptions): RequestHandler {
  return async function ready(req, res) {
    if (req.guard) req.guard.route = 'ready';
    const checks = await options.checks();
    const phase = options.phase();
    const down = Object.values(checks).some((check) => check.status === 'down');
    const isReady = phase === 'ready' && !down;
    res.status(isReady ? 200 : 503).json({ status: isReady ? 'ready' : 'not_ready', phase, checks });
  };
}
