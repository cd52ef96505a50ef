import type { RequestHandler } from 'express';
import cors from 'cors';
import { z } from 'zod';
import { parseOptions } from '../core/options.js';

const optionsSchema = z.strictObject({
  origins: z.array(z.string()).optional(),
  maxAgeSeconds: z.number().int().min(0).max(86_400).optional(),
});

/** Options of {@link createCors}. */
export interface CorsOptions {
  /** Origins allowed to call from a browser, e.g. `https://app.example.com`. `*` allows any (no credentials). Default none. */
  origins?: string[];
  /** How long browsers may cache a preflight. Default 600 s. */
  maxAgeSeconds?: number;
}

/** Request headers an MCP browser client sends (both eras); `Mcp-Param-*` headers are allowed as requested. */
export const CORS_ALLOWED_HEADERS = [
  'Authorization',
  'X-API-Key',
  'Content-Type',
  'Accept',
  'Mcp-Session-Id',
  'MCP-Protocol-Version',
  'Mcp-Method',
  'Mcp-Name',
  'Last-Event-ID',
  'X-Request-ID',
  'traceparent',
  'tracestate',
];

/** A 2026-07-28 tool argument mirrored into a header: `Mcp-Param-` and an RFC 9110 token. */
const PARAM_HEADER = /^mcp-param-[!#$%&'*+\-.^_`|~0-9a-z]{1,64}$/;

/** Response headers a browser client must be able to read. */
export const CORS_EXPOSED_HEADERS = [
  'Mcp-Session-Id',
  'MCP-Protocol-Version',
  'WWW-Authenticate',
  'Retry-After',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'X-Request-ID',
];

/**
 * CORS with an allowlist: an allowed origin gets the CORS headers (and its
 * preflight is answered before authentication); any other origin gets none,
 * so the browser blocks it. Credentials (cookies) are never allowed: MCP
 * clients send tokens in `Authorization`.
 *
 * @example app.use(createCors({ origins: ['https://inspector.example.com'] }));
 */
export function createCors(options: CorsOptions = {}): RequestHandler {
  const { origins = [], maxAgeSeconds = 600 } = parseOptions('createCors', optionsSchema, options);
  const any = origins.includes('*');
  const allowed = new Set(origins);
  const base = {
    origin: (origin: string | undefined, callback: (error: Error | null, allow?: string | false) => void) =>
      callback(null, origin !== undefined && (any || allowed.has(origin)) ? origin : false),
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    credentials: false,
    maxAge: maxAgeSeconds,
    optionsSuccessStatus: 204,
  };
  const handler = cors(base);
  return function corsAllowlist(req, res, next) {
    // A preflight may ask for the Mcp-Param-* headers a tool declares; each is allowed by name.
    const requested = req.method === 'OPTIONS' ? req.headers['access-control-request-headers'] : undefined;
    const params =
      typeof requested === 'string'
        ? requested
            .split(',')
            .map((name) => name.trim().toLowerCase())
            .filter((name) => PARAM_HEADER.test(name))
        : [];
    if (params.length === 0) return handler(req, res, next);
    cors({ ...base, allowedHeaders: [...CORS_ALLOWED_HEADERS, ...params.slice(0, 32)] })(req, res, next);
  };
}
