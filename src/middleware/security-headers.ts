import type { RequestHandler } from 'express';
import helmet from 'helmet';
import { z } from 'zod';
import { parseOptions } from '../core/options.js';

const optionsSchema = z.strictObject({ hsts: z.boolean().optional() });

/** Options of {@link createSecurityHeaders}. */
export interface SecurityHeadersOptions {
  /** Send `Strict-Transport-Security` (ignored by browsers over plain HTTP). Default `true`. */
  hsts?: boolean;
}

/**
 * helmet tuned for an API that answers JSON and Server-Sent Events and never
 * serves a page: a CSP that allows nothing, no framing, no referrer, no
 * sniffing, resources for this origin only, HSTS, and `Cache-Control: no-store`
 * so tokens and tool results are not cached. helmet's headers for web pages
 * (COOP, Origin-Agent-Cluster, X-DNS-Prefetch-Control, X-Download-Options,
 * X-Permitted-Cross-Domain-Policies, X-XSS-Protection) are left out.
 * The headers are computed by helmet once, when the middleware is created.
 *
 * @example app.use(createSecurityHeaders({ hsts: false }));
 */
export function createSecurityHeaders(options: SecurityHeadersOptions = {}): RequestHandler {
  const { hsts = true } = parseOptions('createSecurityHeaders', optionsSchema, options);
  const headers = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginEmbedderPolicy: false,
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: hsts ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    xFrameOptions: { action: 'deny' },
    // Headers for web pages and browsers long gone: an API answering JSON and SSE needs none of them,
    // and each costs every response (OWASP's REST Security Cheat Sheet lists the ones kept).
    crossOriginOpenerPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  });
  // helmet's answer does not depend on the request: it is taken once here and replayed per request.
  const set: Array<[string, string | number | readonly string[]]> = [['Cache-Control', 'no-store']];
  const removed: string[] = [];
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => void set.push([name, value]),
    removeHeader: (name: string) => void removed.push(name),
  };
  let called = false;
  (headers as unknown as (req: unknown, res: unknown, next: (error?: unknown) => void) => void)({}, recorder, (error) => {
    if (error) throw error;
    called = true;
  });
  if (!called) throw new Error('createSecurityHeaders: helmet did not complete synchronously');
  return function securityHeaders(_req, res, next) {
    for (const name of removed) res.removeHeader(name);
    for (const [name, value] of set) res.setHeader(name, value);
    next();
  };
}
