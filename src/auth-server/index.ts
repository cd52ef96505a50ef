import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { default as ProviderClass } from 'oidc-provider';
import type { AuditLogger } from '../audit/types.js';
import type { RoleMap } from '../core/permissions.js';
import type { Logger } from '../logging/logger.js';
import { describeError } from '../logging/redact.js';
import type { CredentialVerifier, RoleResolver } from '../middleware/auth/verifier.js';
import type { StateStore } from '../stores/types.js';
import type { AuthServerConfig } from './config.js';
import { isLoopbackUrl } from './config.js';
import { readIdentityMap } from './identity-map.js';
import { createInteractionRoutes } from './interactions.js';
import { readSigningKeys, type SigningKeys } from './keys.js';
import { createAccounts, createProvider, LIMITS, readClientsFile, STORE_PREFIX } from './provider.js';
import type { SafeFetchOptions } from './safe-fetch.js';
import { resourceScopes } from './scopes.js';
import { grantIsActive } from './store-adapter.js';
import { createUpstreamClient } from './upstream.js';
import { createAccessTokenVerifier } from './verifier.js';

/** What {@link createAuthServer} needs from the app. */
export interface AuthServerDependencies {
  store: StateStore;
  audit: AuditLogger;
  logger: Logger;
  /** Roles (built-in and `MCP_RBAC_FILE`): scopes are their permissions. */
  roles: RoleMap;
  resolveRole: RoleResolver;
  /** Extra trusted CA certificates (PEM) for outgoing HTTPS (tests, private CAs). */
  ca?: string;
  /** Scopes of an authorization request that names none (RFC 6749 3.3): those the protected-resource metadata lists. */
  defaultScopes: readonly string[];
}

/** The authorization server, ready to mount. */
export interface AuthServer {
  /** The issuer: name it in the protected-resource metadata. */
  issuer: string;
  /**
   * Mounts the metadata documents, `/auth/*` and the sign-in pages on the app,
   * after the perimeter (Origin and Host checks), each behind `limits`.
   */
  mount(app: Router, limits: RequestHandler[]): void;
  /** Verifies the access tokens it issues; put it before any other JWT verifier. */
  verifier: CredentialVerifier;
  /** Re-reads the signing keys file (rotation without a restart); keeps the old keys if the file is bad. */
  reload(): void;
}

/**
 * Builds the optional authorization server for interactive MCP clients on
 * oidc-provider: reads the signing keys, the identity mapping and the
 * pre-registered clients (any problem fails start-up), and returns the routes
 * to mount and the verifier of the tokens it issues.
 *
 * @example const authServer = await createAuthServer(config.authServer, { store, audit, logger, roles, resolveRole });
 */
export async function createAuthServer(config: AuthServerConfig, deps: AuthServerDependencies): Promise<AuthServer> {
  const { store, audit, logger, roles, resolveRole } = deps;
  const library = await import('oidc-provider');
  let keys: SigningKeys = readSigningKeys(config.keysFile);
  const identityMap = readIdentityMap(config.identityFile, (role) => Object.hasOwn(roles, role));
  const clients = readClientsFile(config.clientsFile);
  const scopes = resourceScopes(roles);
  const accounts = createAccounts(store, config.refreshTokenTtlSec);
  const fetch: SafeFetchOptions = { allowLoopback: config.allowLoopback, ...(deps.ca ? { ca: deps.ca } : {}) };
  const withinLimit = async (name: string, subject: string, limit: number, windowMs: number) =>
    (await store.increment(`${STORE_PREFIX}limit:${name}:${subject}`, windowMs)).count <= limit;

  const build = (signing: SigningKeys): ProviderClass => {
    const built = createProvider({ config, keys: signing, store, accounts, scopes, clients, fetch, withinLimit, library });
    built.on('server_error', (_ctx, error) => logger.error('authorization server error', { error: describeError(error) }));
    built.on('grant.revoked', (ctx, grantId) => {
      audit
        .record({
          type: 'token.reuse_detected',
          action: `${ctx.method} ${ctx.path}`.slice(0, 256),
          actor: { ip: ctx.ip, authMethod: 'oauth' },
          outcome: { status: 'failure', code: 'invalid_grant' },
          details: { grant: grantId, route: ctx.oidc?.route ?? 'unknown' },
        })
        .catch((error: unknown) => logger.warn('audit of a revoked grant failed', { error: describeError(error) }));
    });
    return built;
  };
  let provider = build(keys);
  let handle = provider.callback();

  const upstreamFetch: SafeFetchOptions = {
    allowPrivate: true,
    allowLoopback: config.allowLoopback,
    allowHttpLoopback: config.allowLoopback && isLoopbackUrl(config.upstream.issuer),
    ...(deps.ca ? { ca: deps.ca } : {}),
  };
  const upstream = createUpstreamClient({ ...config.upstream, redirectUri: `${config.issuer}/auth/callback`, fetch: upstreamFetch });

  // Koa trusts X-Forwarded-* when told to; it is told only what mcp-guard decided: the client address
  // Express trusts (MCP_TRUST_PROXY), and the issuer's own scheme and host, so that every URL the
  // library writes (metadata endpoints, redirects, cookies' Secure flag) is the issuer's even when
  // TLS ends at a proxy that does not say so.
  const issuerUrl = new URL(config.issuer);
  const toProvider = (req: Request, res: Response): void => {
    req.headers['x-forwarded-proto'] = issuerUrl.protocol.slice(0, -1);
    req.headers['x-forwarded-host'] = issuerUrl.host;
    req.headers['x-forwarded-for'] = req.ip ?? '';
    req.url = req.originalUrl;
    req.baseUrl = '';
    handle(req as IncomingMessage, res as ServerResponse);
  };
  const cap =
    (name: string, perIp: number, total: number, windowMs: number): RequestHandler =>
    async (req, res, next) => {
      if ((await withinLimit(name, req.ip ?? 'unknown', perIp, windowMs)) && (await withinLimit(name, '*', total, windowMs))) return next();
      res.status(429).setHeader('Retry-After', String(Math.ceil(windowMs / 1000)));
      res.setHeader('Cache-Control', 'no-store');
      res.json({ error: 'slow_down', error_description: 'Too many requests; try again later' });
    };

  const router = Router();
  // A request without `scope` gets the default (RFC 6749 3.3), what MCP clients would have asked for
  // from the protected-resource metadata; without it the library grants nothing and denies.
  router.get('/authorize', (req, _res, next) => {
    if (req.query.scope === undefined && deps.defaultScopes.length) {
      const url = new URL(req.originalUrl, 'http://x');
      url.searchParams.set('scope', deps.defaultScopes.join(' '));
      req.url = `/authorize${url.search}`;
      req.originalUrl = `${url.pathname}${url.search}`;
    }
    next();
  });
  router.use('/authorize', cap('authorize', LIMITS.authorizationsPerIp, LIMITS.authorizations, 600_000));
  router.post('/register', cap('register', LIMITS.registrationsPerIp, config.registration.perHour, 3_600_000));
  router.use(
    createInteractionRoutes({
      provider: () => provider,
      upstream,
      upstreamIssuer: config.upstream.issuer,
      callbackUrl: `${config.issuer}/auth/callback`,
      identityMap,
      accounts,
      resolveRole,
      resource: config.resource,
      store,
      audit,
      csrfKey: keys.cookieKeys[0]!,
    }),
  );
  router.use(toProvider);

  return {
    issuer: config.issuer,
    mount(app, limits) {
      // RFC 8414 metadata at its own well-known path, and the OpenID Connect form: the same document.
      app.get(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'], ...limits, (req, res) => {
        req.originalUrl = '/.well-known/openid-configuration';
        toProvider(req, res);
      });
      app.use('/auth', ...limits, router);
    },
    verifier: createAccessTokenVerifier({
      issuer: config.issuer,
      resource: config.resource,
      jwks: () => keys.publicJwks as never,
      resolveRole,
      grantIsActive: (grantId) => grantIsActive(store, grantId, STORE_PREFIX),
    }),
    reload() {
      try {
        const next = readSigningKeys(config.keysFile);
        const rebuilt = build(next);
        keys = next;
        provider = rebuilt;
        handle = rebuilt.callback();
        logger.info('authorization server signing keys reloaded', { keys: next.privateJwks.length, signing: next.privateJwks[0]!.kid });
      } catch (error) {
        logger.error('authorization server signing keys not reloaded; the previous keys stay in use', { error: describeError(error) });
      }
    },
  };
}
