import { z } from 'zod';
import { fn, parseOptions, service } from '../core/options.js';
import type { RoleResolver } from '../middleware/auth/verifier.js';
import { parseApiKey } from './api-key-format.js';
import { checkApiKey, type ApiKeyStore } from './api-key-store.js';
import { keyStatus } from './key-lifecycle.js';
import type { StoredKey } from './key-store-file.js';
import { generateToken } from './generate-token.js';
import type { RefreshTokenStore } from './refresh-tokens.js';
import type { RevocationList } from './revocations.js';

/** Options of {@link createTokenService}. */
export interface TokenServiceOptions {
  keys: ApiKeyStore;
  refreshTokens: RefreshTokenStore;
  revocations?: RevocationList;
  resolveRole: RoleResolver;
  /** HS256 secret the JWT verifier shares (`MCP_JWT_SECRET`). */
  secret: string;
  issuer?: string;
  audience?: string;
  /** Access-token lifetime, seconds. Default 900 (15 minutes). */
  accessTokenTtlSec?: number;
}

/** Tokens handed to a client. */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  keyId: string;
  family: string;
  scope: string;
}

/** The outcome of a grant: tokens, or an OAuth error with the reason for the audit log. */
export type GrantResult =
  | { ok: true; tokens: IssuedTokens }
  | { ok: false; error: 'invalid_client' | 'invalid_grant' | 'invalid_scope'; reason: string; keyId?: string; family?: string };

/** Issues access and refresh tokens to service clients that hold an API key. */
export interface TokenService {
  /** `client_credentials`: the API key is the client secret. */
  clientCredentials(secret: string, ip: string | undefined, scope?: string): Promise<GrantResult>;
  /** `refresh_token`: rotates the refresh token; reuse revokes the family. */
  refresh(token: string): Promise<GrantResult>;
}

const optionsSchema = z.strictObject({
  keys: service<ApiKeyStore>(),
  refreshTokens: service<RefreshTokenStore>(),
  revocations: service<RevocationList>().optional(),
  resolveRole: fn<RoleResolver>(),
  secret: z.string().min(32),
  issuer: z.string().min(1).optional(),
  audience: z.string().min(1).optional(),
  accessTokenTtlSec: z.number().int().min(10).max(86_400).optional(),
});

/**
 * Creates the token service behind `POST /oauth/token`. Access tokens are
 * HS256 JWTs for this resource (`aud`), short-lived; refresh tokens are
 * opaque, rotated on use and stored hashed. Every grant re-checks that the
 * API key is still active, so revoking the key ends its refresh chain at once.
 */
export function createTokenService(options: TokenServiceOptions): TokenService {
  const {
    keys,
    refreshTokens,
    revocations,
    resolveRole,
    secret,
    issuer,
    audience,
    accessTokenTtlSec = 900,
  } = parseOptions('createTokenService', optionsSchema, options);

  const mint = async (
    record: StoredKey,
    family: string | undefined,
    refreshToken: string | undefined,
    scope?: string,
  ): Promise<GrantResult> => {
    const granted = resolveRole(record.role);
    if (!granted) return { ok: false, error: 'invalid_client', reason: 'unknown_role', keyId: record.id };
    const allowed = record.permissions ?? granted;
    let permissions = record.permissions;
    if (scope !== undefined) {
      const requested = scope.split(' ').filter(Boolean);
      const fits = (permission: string) => allowed.includes('*') || allowed.includes(permission);
      if (requested.length === 0 || !requested.every(fits))
        return { ok: false, error: 'invalid_scope', reason: 'scope_not_granted', keyId: record.id };
      permissions = requested;
    }
    const issued =
      refreshToken && family
        ? { token: refreshToken, family }
        : await refreshTokens.issue({ keyId: record.id, ...(scope !== undefined ? { scope } : {}) });
    const { token } = generateToken({
      secret,
      subject: `key:${record.id}`,
      role: record.role,
      ttlSec: accessTokenTtlSec,
      ...(permissions ? { permissions } : {}),
      ...(record.tenant ? { tenant: record.tenant } : {}),
      ...(issuer ? { issuer } : {}),
      ...(audience ? { audience } : {}),
    });
    return {
      ok: true,
      tokens: {
        accessToken: token,
        refreshToken: issued.token,
        expiresIn: accessTokenTtlSec,
        keyId: record.id,
        family: issued.family,
        scope: (permissions ?? granted).join(' '),
      },
    };
  };

  const isRevoked = async (id: string) => (revocations ? revocations.isRevoked(id) : false);

  return {
    async clientCredentials(clientSecret, ip, scope) {
      const parsed = parseApiKey(clientSecret);
      const loaded = parsed ? keys.lookup(parsed.id) : undefined;
      const checked = checkApiKey(clientSecret, loaded, ip);
      if (!checked.ok)
        return {
          ok: false,
          error: 'invalid_client',
          reason: parsed ? checked.reason : 'malformed',
          ...(parsed ? { keyId: parsed.id } : {}),
        };
      if (await isRevoked(parsed!.id)) return { ok: false, error: 'invalid_client', reason: 'revoked', keyId: parsed!.id };
      return mint(loaded!.record, undefined, undefined, scope);
    },
    async refresh(token) {
      const rotated = await refreshTokens.rotate(token);
      if (!rotated.ok) {
        return {
          ok: false,
          error: 'invalid_grant',
          reason: rotated.reason,
          ...(rotated.grant ? { keyId: rotated.grant.keyId } : {}),
          ...(rotated.family ? { family: rotated.family } : {}),
        };
      }
      const loaded = keys.lookup(rotated.grant.keyId);
      if (!loaded || keyStatus(loaded.record) !== 'active' || (await isRevoked(rotated.grant.keyId))) {
        return { ok: false, error: 'invalid_grant', reason: 'key_inactive', keyId: rotated.grant.keyId, family: rotated.family };
      }
      return mint(loaded.record, rotated.family, rotated.token, rotated.grant.scope);
    },
  };
}
