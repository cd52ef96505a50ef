import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { default as ProviderClass, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { StateStore } from '../stores/types.js';
import type { AuthServerConfig } from './config.js';
import type { SigningKeys } from './keys.js';
import { createSafeFetch, type SafeFetchOptions } from './safe-fetch.js';
import { createStoreAdapter } from './store-adapter.js';

/** A signed-in person as this server keeps them: the outcome of the identity mapping, no upstream token. */
export interface Account {
  role: string;
  tenant?: string;
  /** Shown on the consent page: the verified e-mail address, else the upstream subject. */
  label: string;
}

/** Key prefix of everything the authorization server keeps in the StateStore. */
export const STORE_PREFIX = 'as:';

/** The account id for an upstream identity: stable, opaque, and never the upstream subject itself. */
export function accountIdOf(issuer: string, subject: string): string {
  return createHash('sha256').update(`${issuer}\n${subject}`).digest('base64url').slice(0, 32);
}

/** Accounts in the StateStore, kept as long as a sign-in can last. */
export function createAccounts(store: StateStore, ttlSec: number) {
  const key = (id: string) => `${STORE_PREFIX}account:${id}`;
  return {
    async save(id: string, account: Account): Promise<void> {
      await store.set(key(id), JSON.stringify(account), ttlSec * 1000);
    },
    async find(id: string): Promise<Account | undefined> {
      if (!/^[A-Za-z0-9_-]{32}$/.test(id)) return undefined;
      const raw = await store.get(key(id));
      return raw === undefined ? undefined : (JSON.parse(raw) as Account);
    },
  };
}
export type Accounts = ReturnType<typeof createAccounts>;

/** Fixed bounds on what unauthenticated clients can make the server spend. */
export const LIMITS = {
  /** Client ID Metadata Document fetches per client address, and in all, per 10 minutes. */
  cimdFetchesPerIp: 20,
  cimdFetches: 300,
  /** Largest metadata document read, bytes. */
  cimdMaxBytes: 5120,
  /** Deadline of one metadata document fetch. */
  cimdTimeoutMs: 2500,
  /** Registrations per client address per hour (the total per hour is configured). */
  registrationsPerIp: 10,
  /** Authorization requests (each may leave a pending interaction) per client address, and in all, per 10 minutes. */
  authorizationsPerIp: 60,
  authorizations: 10_000,
  /** Lifetime of a pending interaction and of an authorization code, seconds. */
  interactionTtlSec: 600,
  codeTtlSec: 60,
};

/** Everything the provider configuration needs. */
export interface ProviderDependencies {
  config: AuthServerConfig;
  keys: SigningKeys;
  store: StateStore;
  accounts: Accounts;
  /** Every scope the resource offers. */
  scopes: string[];
  /** Pre-registered clients (already read). */
  clients: Configuration['clients'];
  /** Outgoing request policy for metadata documents (tests add a CA). */
  fetch: SafeFetchOptions;
  /** Counts one use of `name` for `subject` within `windowMs`; false once past `limit`. */
  withinLimit(name: string, subject: string, limit: number, windowMs: number): Promise<boolean>;
  /** The library's exports, imported on demand (it warns at import on Node 20, so only when on). */
  library: typeof import('oidc-provider');
}

/** Reads the pre-registered clients file (`{"clients": [...]}`, client metadata as in RFC 7591). */
export function readClientsFile(path: string | undefined): Configuration['clients'] {
  if (!path) return [];
  let parsed: unknown;
  try {
    if ((statSync(path).mode & 0o077) !== 0) throw new Error('mode');
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new Error('MCP_AUTH_SERVER_CLIENTS_FILE: cannot be read, is not JSON, or is readable by group or others (chmod 600)');
  }
  const clients = (parsed as { clients?: unknown } | null)?.clients;
  if (!Array.isArray(clients)) throw new Error('MCP_AUTH_SERVER_CLIENTS_FILE: must be {"clients": [...]}');
  return clients as Configuration['clients'];
}

// Outside a request of the library's own (a consent page looking its client up) there is no context.
const ipOf = (ctx: KoaContextWithOIDC | undefined): string => ctx?.ip || 'internal';

/**
 * The oidc-provider instance: OAuth 2.1 authorization code with PKCE (S256
 * only, required of every client), exact redirect URIs (loopback ports free
 * for native clients, RFC 8252), `iss` in every authorization response
 * (RFC 9207), one resource (this MCP endpoint, RFC 8707) with short-lived JWT
 * access tokens bound to it, rotating refresh tokens whose reuse revokes the
 * grant, revocation (RFC 7009), Client ID Metadata Documents and, when on,
 * dynamic registration. State in the StateStore.
 */
export function createProvider(deps: ProviderDependencies): ProviderClass {
  const { config, keys, store, accounts, scopes, library } = deps;
  const { default: Provider, errors } = library;
  const alg = keys.privateJwks[0]!.alg;
  const grantMemorySec = config.refreshTokenTtlSec + 86_400;
  const cimdFetch = createSafeFetch({ ...deps.fetch, maxBytes: LIMITS.cimdMaxBytes, timeoutMs: LIMITS.cimdTimeoutMs });
  const trusted = (clientId: string): boolean => {
    if (config.cimd.origins.includes('*')) return true;
    return config.cimd.origins.includes(new URL(clientId).origin);
  };

  const configuration: Configuration = {
    adapter: (name: string) =>
      createStoreAdapter(name, {
        store,
        prefix: STORE_PREFIX,
        defaultTtlSec: config.refreshTokenTtlSec,
        grantMemorySec,
        consumedError: () => new errors.InvalidGrant('grant request is invalid'),
      }),
    clients: deps.clients ?? [],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      id_token_signed_response_alg: alg,
    },
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],
    // The resource's scopes are listed too: clients register with (RFC 7591 `scope`) and discover them.
    scopes: ['openid', 'offline_access', ...scopes],
    claims: { openid: ['sub'] },
    jwks: { keys: keys.privateJwks as never },
    enabledJWA: { idTokenSigningAlgValues: ['ES256', 'RS256'] },
    cookies: {
      keys: keys.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    pkce: { required: () => true },
    allowOmittingSingleRegisteredRedirectUri: false,
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: config.accessTokenTtlSec,
      AuthorizationCode: LIMITS.codeTtlSec,
      IdToken: config.accessTokenTtlSec,
      Interaction: LIMITS.interactionTtlSec,
      Session: 3600,
      Grant: config.refreshTokenTtlSec,
      RefreshToken: config.refreshTokenTtlSec,
    },
    routes: {
      authorization: '/auth/authorize',
      token: '/auth/token',
      registration: '/auth/register',
      revocation: '/auth/revoke',
      jwks: '/auth/jwks',
      userinfo: '/auth/userinfo',
      end_session: '/auth/logout',
      introspection: '/auth/introspect',
      pushed_authorization_request: '/auth/par',
      code_verification: '/auth/device',
      device_authorization: '/auth/device/auth',
      backchannel_authentication: '/auth/backchannel',
      challenge: '/auth/challenge',
      credential: '/auth/credential',
    },
    interactions: { url: async (_ctx, interaction) => `/auth/interaction/${interaction.uid}` },
    findAccount: async (_ctx, id) => {
      const account = await accounts.find(id);
      return account ? { accountId: id, claims: () => ({ sub: id }) } : undefined;
    },
    extraTokenClaims: async (_ctx, token) => {
      const account = await accounts.find((token as { accountId: string }).accountId);
      if (!account) throw new errors.InvalidGrant('the account is no longer signed in');
      return { role: account.role, ...(account.tenant ? { tenant: account.tenant } : {}), gid: (token as { grantId?: string }).grantId };
    },
    renderError: async (ctx) => {
      ctx.type = 'html';
      ctx.set('Content-Security-Policy', "default-src 'none'");
      ctx.body =
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in could not continue</title></head>' +
        '<body><h1>Sign-in could not continue</h1><p>The request was not valid. Start again from your MCP client.</p></body></html>';
    },
    clientBasedCORS: () => false,
    fetch: cimdFetch as never,
    fetchResponseBodyLimits: { 'client_id metadata document': LIMITS.cimdMaxBytes },
    features: {
      devInteractions: { enabled: false },
      // Nothing this resource server would honour, and nothing more for unauthenticated clients to store.
      pushedAuthorizationRequests: { enabled: false },
      dPoP: { enabled: false },
      claimsParameter: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      userinfo: { enabled: false },
      introspection: { enabled: false },
      revocation: { enabled: true },
      registration: config.registration.enabled
        ? { enabled: true, initialAccessToken: false, issueRegistrationAccessToken: false }
        : { enabled: false },
      clientIdMetadataDocument: {
        enabled: config.cimd.enabled,
        ack: 'draft-02',
        cacheDuration: { min: 30, max: 3600 },
        allowFetch: async (ctx: KoaContextWithOIDC | undefined, clientId: string) =>
          trusted(clientId) &&
          (await deps.withinLimit('cimd', ipOf(ctx), LIMITS.cimdFetchesPerIp, 600_000)) &&
          (await deps.withinLimit('cimd', '*', LIMITS.cimdFetches, 600_000)),
        allowClient: async (_ctx: KoaContextWithOIDC, client: { clientId: string }) => trusted(client.clientId),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => config.resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (indicator !== config.resource) throw new errors.InvalidTarget('this server issues tokens for its MCP endpoint only');
          return {
            scope: scopes.join(' '),
            audience: config.resource,
            accessTokenTTL: config.accessTokenTtlSec,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg } },
          };
        },
      },
    } as Configuration['features'],
  };
  const provider = new Provider(config.issuer, configuration);
  // Express decides what to trust (MCP_TRUST_PROXY); the mount rewrites X-Forwarded-* to its verdict.
  provider.proxy = true;
  return provider;
}
