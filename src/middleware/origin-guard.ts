import type { RequestHandler } from 'express';
import { z } from 'zod';
import { parseOptions } from '../core/options.js';
import { ErrorCode } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';
import { isProbe } from './probe.js';
import { hostHeaderCount } from './request-shape.js';

const optionsSchema = z.strictObject({
  allowedOrigins: z.array(z.string()).optional(),
  allowedHosts: z.array(z.string()).optional(),
});

/** Options of {@link createOriginGuard}. */
export interface OriginGuardOptions {
  /** Origins allowed in the `Origin` header (usually the CORS allowlist). `*` allows any. Default none. */
  allowedOrigins?: string[];
  /**
   * Hostnames (no port) allowed in the `Host` header, e.g. `localhost`, `mcp.example.com`.
   * Empty means the Host header is not checked. Default none.
   */
  allowedHosts?: string[];
}

/** Outcome of an origin/host check. */
export type OriginCheck = { ok: true } | { ok: false; code: typeof ErrorCode.OriginNotAllowed | typeof ErrorCode.HostNotAllowed };

/** Hostname of a `Host` header value, lower-cased, without port; undefined when malformed. */
export function hostnameOf(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(host.trim());
  // A trailing dot names the same host ("localhost." is "localhost").
  return match ? match[1]!.toLowerCase().replace(/\.$/, '') : undefined;
}

/** The resolved policy of {@link checkOrigin}. */
export interface OriginPolicy {
  origins: ReadonlySet<string>;
  anyOrigin: boolean;
  hosts: ReadonlySet<string>;
}

/**
 * The DNS-rebinding check, as a pure function. The Host header must name an
 * allowed host (when hosts are configured). A request without `Origin` (not
 * from a browser) passes; a browser request passes when its origin is
 * allowlisted or is this server's own origin under an allowed host.
 */
export function checkOrigin(origin: string | undefined, host: string | undefined, policy: OriginPolicy): OriginCheck {
  if (policy.hosts.size > 0) {
    const name = hostnameOf(host);
    if (!name || !policy.hosts.has(name)) return { ok: false, code: ErrorCode.HostNotAllowed };
  }
  if (origin === undefined || policy.anyOrigin || policy.origins.has(origin)) return { ok: true };
  // Same-origin: the page was served by this very host, which passed the Host check.
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return { ok: false, code: ErrorCode.OriginNotAllowed };
  }
  const sameOrigin =
    policy.hosts.size > 0 && (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.host === host?.toLowerCase();
  return sameOrigin ? { ok: true } : { ok: false, code: ErrorCode.OriginNotAllowed };
}

/**
 * Rejects requests whose `Host` or `Origin` header betrays DNS rebinding or a
 * foreign web page, with 403, before any other work. The MCP specification
 * requires servers to validate `Origin` on every connection. Two `Host`
 * headers are ambiguous (a proxy may route by one, the check read the
 * other): 400. Probes marked by `createProbeMarker` skip the Host allowlist;
 * they carry no `Origin` by definition.
 *
 * @example app.use(createOriginGuard({ allowedHosts: ['localhost', '127.0.0.1'], allowedOrigins: [] }));
 */
export function createOriginGuard(options: OriginGuardOptions = {}): RequestHandler {
  const { allowedOrigins = [], allowedHosts = [] } = parseOptions('createOriginGuard', optionsSchema, options);
  const policy: OriginPolicy = {
    origins: new Set(allowedOrigins),
    anyOrigin: allowedOrigins.includes('*'),
    hosts: new Set(allowedHosts.map((host) => hostnameOf(host) ?? host.toLowerCase())),
  };
  return function originGuard(req, _res, next) {
    if (hostHeaderCount(req.rawHeaders) > 1) return next(new GuardError(ErrorCode.InvalidRequest, 'Send exactly one Host header'));
    if (isProbe(req)) return next();
    const result = checkOrigin(req.headers.origin, req.headers.host, policy);
    if (result.ok) return next();
    const message = result.code === ErrorCode.HostNotAllowed ? 'Host not allowed' : 'Origin not allowed';
    return next(new GuardError(result.code, message));
  };
}
