import { readFileSync } from 'node:fs';
import { Router, type RequestHandler } from 'express';
import type { AuditLogger } from '../audit/types.js';
import type { CredentialsConfig } from '../config/config.js';
import type { ChallengeBuilder } from '../errors/respond.js';
import { describeError } from '../logging/redact.js';
import type { Logger } from '../logging/logger.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { createApiKeyStoreVerifier } from '../middleware/auth/api-key-store.js';
import { createJwtVerifier } from '../middleware/auth/jwt.js';
import type { Credential, CredentialVerifier, RoleResolver } from '../middleware/auth/verifier.js';
import { credentialVerifiers, type CredentialSources } from '../middleware/auth/verifiers.js';
import { createAuthServer } from '../auth-server/index.js';
import { BASIC_SCOPES } from '../auth-server/scopes.js';
import type { AuthServerConfig } from '../auth-server/config.js';
import type { RoleMap } from '../core/permissions.js';
import { createOAuthTokenRoute } from '../routes/oauth-token.js';
import { createProtectedResourceMetadata, createTokenEndpointMetadata } from '../routes/protected-resource-metadata.js';
import { createMemoryStore } from '../stores/memory.js';
import type { StateStore } from '../stores/types.js';
import { parseApiKey } from '../credentials/api-key-format.js';
import { openApiKeyStore, type ApiKeyStore } from '../credentials/api-key-store.js';
import { createJwksCache } from '../credentials/jwks.js';
import { createJwtValidator } from '../credentials/jwt.js';
import { keyStatus } from '../credentials/key-lifecycle.js';
import { createLockout, type Lockout } from '../credentials/lockout.js';
import { createRefreshTokenStore } from '../credentials/refresh-tokens.js';
import { createRevocationList } from '../credentials/revocations.js';
import { createTokenService } from '../credentials/token-service.js';

/** What {@link createCredentials} needs from the app. */
export interface CredentialsDependencies {
  /** The static credentials and session tokens the configuration enables (their verifiers come first). */
  sources: Omit<CredentialSources, 'verifiers'>;
  store: StateStore;
  audit: AuditLogger;
  metrics: GuardMetrics;
  logger: Logger;
  resolveRole: RoleResolver;
  publicUrl: string | undefined;
  mcpPath: string;
  /**
   * Called in this process for each principal whose key ended (revoked, expired or removed) when the
   * key store is re-read: `key:<id>` and `jwt:key:<id>` (its access tokens). Needs no Redis.
   */
  onPrincipalRevoked?: (principalId: string) => void;
  /** The authorization server for interactive clients (off unless `MCP_AUTH_SERVER=true`), and the roles its scopes come from. */
  authServer?: { config: AuthServerConfig; roles: RoleMap; ca?: string };
}

/** The credential parts of the standalone app, built from the configuration. */
export interface Credentials {
  /** Every verifier the configuration enables, in the order they are tried. */
  verifiers: CredentialVerifier[];
  lockout: Lockout | undefined;
  keyIdOf: (credential: Credential) => string | undefined;
  challenge: ChallengeBuilder;
  /** The discovery documents (public) and, when enabled, the token endpoint and authorization server behind `limit`. */
  routes(limit: RequestHandler[]): Router;
  /** Re-reads the key store and the authorization server's signing keys (SIGHUP). */
  reload(): void;
  close(): Promise<void>;
}

/**
 * The one place where the app's credentials are wired: every verifier (static
 * token and keys, session tokens, key store, JWT, the authorization server's
 * tokens), the lockout, the discovery documents and the token endpoint the
 * configuration asks for. Anything unsafe or malformed (a store
 * file others can read, a bad public key) fails here, at start-up.
 */
export async function createCredentials(config: CredentialsConfig, deps: CredentialsDependencies): Promise<Credentials> {
  const { store, audit, metrics, logger, resolveRole } = deps;
  const revocations = createRevocationList(store);
  let keys: ApiKeyStore | undefined;
  const verifiers: CredentialVerifier[] = [];
  if (config.keyStorePath) {
    keys = openApiKeyStore({
      path: config.keyStorePath,
      onReload: (count) => {
        metrics.credentialEvents.inc({ event: 'keys.reloaded', outcome: 'success' });
        logger.info('API key store reloaded', { keys: count });
      },
      onError: (error) => {
        metrics.credentialEvents.inc({ event: 'keys.reloaded', outcome: 'failure' });
        logger.error('API key store unreadable; refusing every key until it is fixed', { error: describeError(error) });
      },
      onKeysEnded: (ids) => {
        for (const id of ids) for (const principalId of [`key:${id}`, `jwt:key:${id}`]) deps.onPrincipalRevoked?.(principalId);
      },
      onFlushError: (error) => logger.warn('API key last-used times not written back', { error: describeError(error) }),
    });
    verifiers.push(createApiKeyStoreVerifier({ keys, revocations, resolveRole }));
  }
  const { jwt } = config;
  if (jwt.secret || jwt.publicKeyFile || jwt.jwksUri) {
    const validate = createJwtValidator({
      ...(jwt.secret ? { secret: jwt.secret } : {}),
      ...(jwt.publicKeyFile ? { publicKey: readFileSync(jwt.publicKeyFile, 'utf8') } : {}),
      ...(jwt.jwksUri
        ? { jwks: createJwksCache({ uri: jwt.jwksUri, minRefetchIntervalMs: jwt.jwksRefetchMs, maxAgeMs: jwt.jwksMaxAgeMs }) }
        : {}),
      ...(jwt.issuer ? { issuer: jwt.issuer } : {}),
      ...(jwt.audience.length ? { audience: jwt.audience } : {}),
      clockSkewSec: jwt.clockSkewSec,
      claims: jwt.claims,
    });
    // Access tokens from /oauth/token name their API key (`key:<id>`): revoking the key ends them too.
    const isRevoked = async (subject: string): Promise<boolean> => {
      if (!subject.startsWith('key:')) return false;
      const loaded = keys?.lookup(subject.slice(4));
      if (loaded && keyStatus(loaded.record) !== 'active') return true;
      return revocations.isRevoked(subject.slice(4));
    };
    verifiers.push(createJwtVerifier({ validate, resolveRole, isRevoked }));
  }
  // The lockout counts on the shared store (Redis) with a local fallback, or on a memory store of its
  // own: never on the rate-limit counters, whose flood of per-address entries would evict its state.
  const lockoutStores =
    config.lockout.maxAttempts > 0
      ? store.kind === 'memory'
        ? { store: createMemoryStore(), own: true }
        : { store, fallback: createMemoryStore(), own: false }
      : undefined;
  const lockout = lockoutStores
    ? createLockout({
        store: lockoutStores.store,
        ...(lockoutStores.fallback ? { fallback: lockoutStores.fallback } : {}),
        maxAttempts: config.lockout.maxAttempts,
        windowMs: config.lockout.windowMs,
        lockoutMs: config.lockout.lockoutMs,
      })
    : undefined;
  // With the authorization server on and no scopes configured, clients are offered the basic MCP scopes.
  const scopes = config.oauth.scopes.length || !deps.authServer?.config.enabled ? config.oauth.scopes : [...BASIC_SCOPES];
  const authServer = deps.authServer?.config.enabled
    ? await createAuthServer(deps.authServer.config, {
        store,
        audit,
        logger,
        roles: deps.authServer.roles,
        resolveRole,
        defaultScopes: scopes,
        ...(deps.authServer.ca ? { ca: deps.authServer.ca } : {}),
      })
    : undefined;
  // Its tokens are JWTs: its verifier judges them before any other JWT verifier (it passes on other issuers' tokens).
  if (authServer) verifiers.unshift(authServer.verifier);
  const all = credentialVerifiers({ ...deps.sources, verifiers }, resolveRole);
  const tokenEndpoint = config.tokenEndpoint.enabled && keys && jwt.secret ? jwt.secret : undefined;
  // Name only authorization servers that exist: the configured ones, the full one when on, this server when it has a token endpoint.
  const discovery = createProtectedResourceMetadata({
    ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}),
    resourcePath: deps.mcpPath,
    authorizationServers: [...(authServer ? [authServer.issuer] : []), ...config.oauth.authorizationServers],
    selfIsAuthorizationServer: !authServer && tokenEndpoint !== undefined,
    scopes,
  });

  return {
    verifiers: all,
    lockout,
    keyIdOf: (credential) => parseApiKey(credential.value)?.id,
    challenge: discovery.challenge,
    routes(limit) {
      const app = Router();
      app.get(discovery.paths, discovery.handler);
      if (authServer) authServer.mount(app, limit);
      else if (tokenEndpoint)
        app.get(
          '/.well-known/oauth-authorization-server',
          createTokenEndpointMetadata({ ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}), tokenPath: '/oauth/token' }),
        );
      if (tokenEndpoint && keys && jwt.secret) {
        const tokens = createTokenService({
          keys,
          refreshTokens: createRefreshTokenStore(store, config.tokenEndpoint.refreshTtlMs),
          revocations,
          resolveRole,
          secret: jwt.secret,
          ...(jwt.issuer ? { issuer: jwt.issuer } : {}),
          ...(jwt.audience[0] ? { audience: jwt.audience[0] } : {}),
          accessTokenTtlSec: Math.round(config.tokenEndpoint.accessTtlMs / 1000),
        });
        app.use('/oauth/token', ...limit, createOAuthTokenRoute({ tokens, audit, metrics, ...(lockout ? { lockout } : {}) }));
      }
      return app;
    },
    reload() {
      authServer?.reload();
      try {
        keys?.reload();
      } catch {
        // Reported through onError.
      }
    },
    async close() {
      await keys?.close();
      await Promise.allSettled([lockoutStores?.fallback?.shutdown(), lockoutStores?.own ? lockoutStores.store.shutdown() : undefined]);
    },
  };
}
