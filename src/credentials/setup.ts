import { readFileSync } from 'node:fs';
import type { Express, RequestHandler } from 'express';
import type { AuditLogger } from '../audit/types.js';
import type { CredentialsConfig } from '../config/config.js';
import type { ChallengeBuilder } from '../errors/respond.js';
import { describeError } from '../logging/redact.js';
import type { Logger } from '../logging/logger.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { createApiKeyStoreVerifier } from '../middleware/auth/api-key-store.js';
import { createJwtVerifier } from '../middleware/auth/jwt.js';
import type { Credential, CredentialVerifier, RoleResolver } from '../middleware/auth/verifier.js';
import { createAuthServer } from '../auth-server/index.js';
import { BASIC_SCOPES } from '../auth-server/scopes.js';
import type { AuthServerConfig } from '../auth-server/config.js';
import type { RoleMap } from '../core/permissions.js';
import { createOAuthTokenRoute } from '../routes/oauth-token.js';
import { createProtectedResourceMetadata, createTokenEndpointMetadata } from '../routes/protected-resource-metadata.js';
import { createMemoryStore } from '../stores/memory.js';
import type { StateStore } from '../stores/types.js';
import { parseApiKey } from './api-key-format.js';
import { openApiKeyStore, type ApiKeyStore } from './api-key-store.js';
import { createJwksCache } from './jwks.js';
import { createJwtValidator } from './jwt.js';
import { keyStatus } from './key-lifecycle.js';
import { createLockout, type Lockout } from './lockout.js';
import { createRefreshTokenStore } from './refresh-tokens.js';
import { createRevocationList } from './revocations.js';
import { createTokenService } from './token-service.js';

/** What {@link createCredentials} needs from the app. */
export interface CredentialsDependencies {
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
  verifiers: CredentialVerifier[];
  lockout: Lockout | undefined;
  keyIdOf: (credential: Credential) => string | undefined;
  challenge: ChallengeBuilder;
  /** Mounts the discovery document (public) and, when enabled, `POST /oauth/token` behind `limit`. */
  mount(app: Express, limit: RequestHandler[]): void;
  /** Re-reads the key store and the authorization server's signing keys (SIGHUP). */
  reload(): void;
  close(): Promise<void>;
}

/**
 * Builds the key store, JWT verifier, lockout, discovery document and token
 * endpoint the configuration asks for. Anything unsafe or malformed (a store
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
    verifiers,
    lockout,
    keyIdOf: (credential) => parseApiKey(credential.value)?.id,
    challenge: discovery.challenge,
    mount(app, limit) {
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
