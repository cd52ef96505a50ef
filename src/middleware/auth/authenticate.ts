import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import type { AuditLogger } from '../../audit/types.js';
import { recordFailureAudited, type Lockout } from '../../credentials/lockout.js';
import { fn, parseOptions, service } from '../../core/options.js';
import { toAuthInfo, type Principal } from '../../core/principal.js';
import { ErrorCode } from '../../errors/codes.js';
import { GuardError, isGuardError } from '../../errors/guard-error.js';
import { describeError } from '../../logging/redact.js';
import type { Logger } from '../../logging/logger.js';
import type { GuardMetrics } from '../../metrics/guard-metrics.js';
import { guardState, requestActor } from '../context.js';
import type { Credential, CredentialVerifier } from './verifier.js';

const optionsSchema = z.strictObject({
  verifiers: z.array(service<CredentialVerifier>()).min(1),
  audit: service<AuditLogger>(),
  metrics: service<GuardMetrics>().optional(),
  logger: service<Logger>().optional(),
  maxCredentialLength: z.number().int().min(64).max(16_384).optional(),
  lockout: service<Lockout>().optional(),
  keyIdOf: fn<(credential: Credential) => string | undefined>().optional(),
});

/** Options of {@link createAuthenticate}. */
export interface AuthenticateOptions {
  /** Tried in order; the first to return a principal wins. */
  verifiers: CredentialVerifier[];
  audit: AuditLogger;
  metrics?: GuardMetrics;
  logger?: Logger;
  /** Longest credential looked at; longer ones are refused unread. Default 8192. */
  maxCredentialLength?: number;
  /** Brute-force lockout: locked IPs and key ids are refused (429) before verification; failures are counted. */
  lockout?: Lockout;
  /** The key id a credential names (even a wrong one), for counting failures per key. */
  keyIdOf?: (credential: Credential) => string | undefined;
}

// RFC 6750 b64token, and printable ASCII for API keys.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const API_KEY = /^[\x21-\x7e]+$/;

type Extracted = { credential: Credential } | { error: GuardError } | undefined;

/** Finds the one credential of a request; errors for malformed, oversized or doubled credentials. */
export function extractCredential(req: Request, maxLength: number): Extracted {
  // An empty header carries no credential (RFC 6750 3.1: then no error code).
  const authorization = req.headers.authorization?.trim() || undefined;
  const rawKey = req.headers['x-api-key'];
  const apiKey = typeof rawKey === 'string' ? rawKey.trim() || undefined : rawKey;
  if (authorization !== undefined && apiKey !== undefined) {
    return { error: new GuardError(ErrorCode.InvalidRequest, 'Send one credential, not both Authorization and X-API-Key') };
  }
  // Built only on failure: an Error captures a stack trace, too costly for every request.
  const invalid = () => ({ error: new GuardError(ErrorCode.InvalidToken, 'The access token is invalid') });
  if (authorization !== undefined) {
    if (authorization.length > maxLength + 7) return invalid();
    const match = BEARER.exec(authorization);
    return match ? { credential: { source: 'authorization', value: match[1]! } } : invalid();
  }
  if (apiKey !== undefined) {
    if (typeof apiKey !== 'string' || apiKey.length > maxLength || !API_KEY.test(apiKey)) return invalid();
    return { credential: { source: 'x-api-key', value: apiKey } };
  }
  return undefined;
}

/**
 * Authenticates every request: exactly one credential (`Authorization:
 * Bearer` or `X-API-Key`), checked by the configured verifiers. Success sets
 * `req.auth` (the SDK's AuthInfo) and `req.guard.principal`; failure is 401
 * with a `WWW-Authenticate` challenge. Each outcome is audited before the
 * request goes on, and a verifier that throws denies the request.
 *
 * @example router.use(createAuthenticate({ verifiers: [staticToken], audit }));
 */
export function createAuthenticate(options: AuthenticateOptions): RequestHandler {
  const {
    verifiers,
    audit,
    metrics,
    logger,
    maxCredentialLength = 8192,
    lockout,
    keyIdOf,
  } = parseOptions('createAuthenticate', optionsSchema, options);

  const verify = async (credential: Credential, req: Request): Promise<Principal> => {
    for (const verifier of verifiers) {
      const principal = await verifier.verify(credential, req);
      if (principal) return principal;
    }
    throw new GuardError(ErrorCode.InvalidToken, 'The access token is invalid', { reason: 'unrecognized' });
  };

  return async function authenticate(req, _res, next) {
    const extracted = extractCredential(req, maxCredentialLength);
    let principal: Principal | undefined;
    let failure: GuardError;
    if (extracted === undefined) {
      failure = new GuardError(ErrorCode.Unauthenticated, 'Authentication required');
    } else if ('error' in extracted) {
      failure = extracted.error;
    } else {
      try {
        const locked = lockout ? await lockout.check({ ip: req.ip, keyId: keyIdOf?.(extracted.credential) }) : undefined;
        if (locked) {
          throw new GuardError(ErrorCode.LockedOut, 'Too many failed attempts; try again later', {
            retryAfter: Math.ceil(locked.retryAfterMs / 1000),
            reason: `locked_${locked.subject}`,
          });
        }
        principal = await verify(extracted.credential, req);
      } catch (error) {
        if (!isGuardError(error)) logger?.error('credential verification failed', { error: describeError(error) });
        principal = undefined;
        failure = isGuardError(error) ? error : new GuardError(ErrorCode.Unavailable, 'Authentication is temporarily unavailable');
      }
    }
    const method = extracted && 'credential' in extracted ? extracted.credential.source : 'none';
    try {
      if (principal) {
        guardState(req).principal = principal;
        req.auth = toAuthInfo(principal);
        metrics?.authAttempts.inc({ method: principal.authMethod, outcome: 'success' });
        await audit.record({
          type: 'auth.success',
          action: `${req.method} ${req.baseUrl}${req.path}`.slice(0, 256),
          ...requestActor(req),
          outcome: { status: 'success' },
        });
        return next();
      }
      const reason = failure!.details.reason;
      metrics?.authAttempts.inc({ method, outcome: reason ?? failure!.code });
      const { actor, context } = requestActor(req);
      const action = `${req.method} ${req.baseUrl}${req.path}`.slice(0, 256);
      await audit.record({
        type: 'auth.failure',
        action,
        actor,
        context,
        outcome: { status: 'failure', code: failure!.code },
        details: { source: method, ...(reason ? { reason } : {}) },
      });
      if (lockout && failure!.status === 401 && extracted && 'credential' in extracted) {
        const keyId = keyIdOf?.(extracted.credential);
        await recordFailureAudited(lockout, { ip: req.ip, keyId }, { audit, metrics, action, actor, context });
      }
      return next(failure!);
    } catch (error) {
      logger?.error('audit write failed; refusing request', { error: describeError(error) });
      return next(new GuardError(ErrorCode.Unavailable, 'The request cannot be recorded and was refused'));
    }
  };
}
