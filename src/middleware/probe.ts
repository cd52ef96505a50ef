import type { Request, RequestHandler } from 'express';
import { hostHeaderCount, isBrowserRequest } from './request-shape.js';

const PROBE = Symbol('mcp-guard.probe');

type Marked = Request & { [PROBE]?: true };

/** True when {@link createProbeMarker} marked `req` as an orchestrator probe. */
export function isProbe(req: Request): boolean {
  return (req as Marked)[PROBE] === true;
}

/**
 * Marks liveness and readiness probes so that the origin guard lets them
 * through whatever their `Host`: a Docker HEALTHCHECK or a Kubernetes probe
 * names the container's own address (`Host: 10.1.2.3:3000`), which a host
 * allowlist refuses. A probe is a GET or HEAD with exactly one `Host` and
 * nothing a browser sends (see {@link isBrowserRequest}), so a DNS-rebinding
 * page is still refused. Mount it on the probe routes only, before the stack,
 * and keep those routes free of credentials and data.
 *
 * @example app.get(['/health', '/ready'], createProbeMarker());
 */
export function createProbeMarker(): RequestHandler {
  return function probeMarker(req, _res, next) {
    if ((req.method === 'GET' || req.method === 'HEAD') && hostHeaderCount(req.rawHeaders) === 1 && !isBrowserRequest(req.headers)) {
      (req as Marked)[PROBE] = true;
    }
    next();
  };
}
