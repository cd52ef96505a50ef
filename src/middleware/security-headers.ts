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
 * sniffing, and `Cache-Control: no-store` so tokens and tool results are not cached.
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
  });
  return function securityHeaders(req, res, next) {
    res.setHeader('Cache-Control', 'no-store');
    headers(req, res, next);
  };
}
