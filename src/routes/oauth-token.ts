import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { AuditLogger } from '../audit/types.js';
import { parseOptions, service } from '../core/options.js';
import { parseApiKey } from '../credentials/api-key-format.js';
import { recordFailureAudited, type Lockout } from '../credentials/lockout.js';
import type { GrantResult, TokenService } from '../credentials/token-service.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { requestActor } from '../middleware/context.js';

/** Options of {@link createOAuthTokenRoute}. */
export interface OAuthTokenRouteOptions {
  tokens: TokenService;
  audit: AuditLogger;
  metrics?: GuardMetrics;
  /** Failed client authentications count towards the lockout; locked clients get 429. */
  lockout?: Lockout;
}

const optionsSchema = z.strictObject({
  tokens: service<TokenService>(),
  audit: service<AuditLogger>(),
  metrics: service<GuardMetrics>().optional(),
  lockout: service<Lockout>().optional(),
});

const field = (body: unknown, name: string): string | undefined => {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' && value.length <= 4096 ? value : undefined;
};

/** The client secret from `client_secret` or HTTP Basic (RFC 6749 section 2.3.1). */
function clientSecretOf(req: Request): string | undefined {
  const basic = /^Basic +([A-Za-z0-9+/]+=*)$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return undefined;
    try {
      return decodeURIComponent(decoded.slice(colon + 1));
    } catch {
      return undefined;
    }
  }
  return field(req.body, 'client_secret');
}

function oauthError(res: Response, status: number, error: string, description: string, retryAfter?: number): void {
  res.status(status).setHeader('Cache-Control', 'no-store').setHeader('Pragma', 'no-cache');
  if (retryAfter !== undefined) res.setHeader('Retry-After', String(Math.max(1, retryAfter)));
  if (status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="mcp-guard"');
  res.json({ error, error_description: description });
}

/**
 * `POST /oauth/token` for service clients (OAuth 2.1): `client_credentials`
 * with an API key as the client secret (in the body or HTTP Basic), and
 * `refresh_token` with rotation and reuse detection. Every outcome is audited
 * before the answer; failures name only the OAuth error, never the reason.
 *
 * @example app.use('/oauth/token', stack.ipRateLimit, createOAuthTokenRoute({ tokens, audit, lockout }));
 */
export function createOAuthTokenRoute(options: OAuthTokenRouteOptions): Router {
  const { tokens, audit, metrics, lockout } = parseOptions('createOAuthTokenRoute', optionsSchema, options);
  const router = Router();
  router.post(
    '/',
    express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }),
    express.json({ limit: '8kb' }),
    async function oauthToken(req, res) {
      const grantType = field(req.body, 'grant_type');
      const { actor, context } = requestActor(req);
      const action = `POST ${req.baseUrl}`.slice(0, 256);
      const event = grantType === 'refresh_token' ? 'token.refreshed' : 'token.issued';
      if (grantType !== 'client_credentials' && grantType !== 'refresh_token') {
        return oauthError(res, 400, 'unsupported_grant_type', 'grant_type must be client_credentials or refresh_token');
      }
      const secret = grantType === 'client_credentials' ? clientSecretOf(req) : undefined;
      const keyId = secret ? parseApiKey(secret)?.id : undefined;
      try {
        const locked = lockout ? await lockout.check({ ip: req.ip, keyId }) : undefined;
        if (locked) {
          metrics?.credentialEvents.inc({ event, outcome: 'locked_out' });
          await audit.record({
            type: 'auth.failure',
            action,
            actor,
            context,
            outcome: { status: 'denied', code: 'locked_out' },
            details: { reason: `locked_${locked.subject}` },
          });
          return oauthError(res, 429, 'slow_down', 'Too many failed attempts; try again later', Math.ceil(locked.retryAfterMs / 1000));
        }
        let result: GrantResult;
        if (grantType === 'client_credentials') {
          if (!secret) return oauthError(res, 401, 'invalid_client', 'Client authentication failed');
          result = await tokens.clientCredentials(secret, req.ip, field(req.body, 'scope'));
        } else {
          const refreshToken = field(req.body, 'refresh_token');
          if (!refreshToken) return oauthError(res, 400, 'invalid_request', 'refresh_token is required');
          result = await tokens.refresh(refreshToken);
        }
        if (!result.ok) {
          const reused = result.reason === 'reused';
          metrics?.credentialEvents.inc({ event: reused ? 'token.reuse_detected' : event, outcome: result.reason });
          await audit.record({
            type: reused ? 'token.reuse_detected' : result.error === 'invalid_client' ? 'auth.failure' : event,
            action,
            actor: { ...actor, ...(result.keyId ? { principalId: `key:${result.keyId}` } : {}) },
            context,
            outcome: { status: 'failure', code: result.error },
            details: { reason: result.reason, grant: grantType, ...(result.family ? { family: result.family } : {}) },
          });
          if (lockout && result.error !== 'invalid_scope') {
            await recordFailureAudited(
              lockout,
              { ip: req.ip, keyId: result.error === 'invalid_client' ? keyId : undefined },
              { audit, metrics, action, actor, context },
            );
          }
          if (result.error === 'invalid_client') return oauthError(res, 401, 'invalid_client', 'Client authentication failed');
          if (result.error === 'invalid_scope')
            return oauthError(res, 400, 'invalid_scope', 'The requested scope is not granted to this client');
          return oauthError(res, 400, 'invalid_grant', 'The refresh token is invalid, expired or revoked');
        }
        const issued = result.tokens;
        metrics?.credentialEvents.inc({ event, outcome: 'success' });
        await audit.record({
          type: event,
          action,
          actor: { ...actor, principalId: `key:${issued.keyId}`, authMethod: 'api-key' },
          context,
          outcome: { status: 'success' },
          details: { grant: grantType, family: issued.family, expiresIn: issued.expiresIn },
        });
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Pragma', 'no-cache');
        return res.json({
          access_token: issued.accessToken,
          token_type: 'Bearer',
          expires_in: issued.expiresIn,
          refresh_token: issued.refreshToken,
          scope: issued.scope,
        });
      } catch {
        // Store or audit unavailable: refuse rather than issue an unrecorded token.
        return oauthError(res, 503, 'temporarily_unavailable', 'The token endpoint is temporarily unavailable');
      }
    },
  );
  router.all('/', (_req, res) => {
    res.setHeader('Allow', 'POST');
    oauthError(res, 405, 'invalid_request', 'Use POST');
  });
  return router;
}
