import { z } from 'zod';
import { fn, parseOptions } from '../../core/options.js';
import type { Principal } from '../../core/principal.js';
import { JwtError, looksLikeJwt, type JwtIdentity } from '../../credentials/jwt.js';
import { ErrorCode } from '../../errors/codes.js';
import { GuardError } from '../../errors/guard-error.js';
import type { CredentialVerifier, RoleResolver } from './verifier.js';

const optionsSchema = z.strictObject({
  validate: fn<(token: string) => Promise<JwtIdentity>>(),
  resolveRole: fn<RoleResolver>(),
  isRevoked: fn<(subject: string) => Promise<boolean>>().optional(),
});

/** Options of {@link createJwtVerifier}. */
export interface JwtVerifierOptions {
  /** The validator (see `createJwtValidator`). */
  validate: (token: string) => Promise<JwtIdentity>;
  resolveRole: RoleResolver;
  /** Checked for each valid token's subject: true refuses it (a revoked API key's access tokens die with it). */
  isRevoked?: (subject: string) => Promise<boolean>;
}

/** Role given to a token that carries scopes but no role. */
export const SCOPED_ROLE = 'scoped';

/**
 * The permissions of a token: its role's, narrowed by its scopes when it has
 * both; only its scopes when it has no role. A token with neither grants nothing and is refused.
 */
export function jwtPermissions(
  identity: JwtIdentity,
  resolveRole: RoleResolver,
): { role: string; permissions: readonly string[] } | undefined {
  if (identity.role === undefined)
    return identity.permissions?.length ? { role: SCOPED_ROLE, permissions: identity.permissions } : undefined;
  const granted = resolveRole(identity.role);
  if (!granted) return undefined;
  if (identity.permissions === undefined) return { role: identity.role, permissions: granted };
  const narrowed = identity.permissions.filter((permission) => granted.includes('*') || granted.includes(permission));
  return { role: identity.role, permissions: narrowed };
}

/**
 * Verifies JWT bearer tokens (HS256, RS256, ES256) with a validator built by
 * `createJwtValidator`. Any refusal is the same 401; the reason (expired,
 * wrong audience, ...) is in `details.reason` for the audit log only.
 *
 * @example createJwtVerifier({ validate: createJwtValidator({ secret, audience }), resolveRole })
 */
export function createJwtVerifier(options: JwtVerifierOptions): CredentialVerifier {
  const { validate, resolveRole, isRevoked } = parseOptions('createJwtVerifier', optionsSchema, options);
  const refuse = (reason: string) => new GuardError(ErrorCode.InvalidToken, 'The access token is invalid', { reason });
  return {
    name: 'jwt',
    async verify(credential) {
      if (credential.source !== 'authorization' || !looksLikeJwt(credential.value)) return undefined;
      let identity: JwtIdentity;
      try {
        identity = await validate(credential.value);
      } catch (error) {
        throw refuse(error instanceof JwtError ? error.reason : 'malformed');
      }
      if (isRevoked && (await isRevoked(identity.subject))) throw refuse('revoked');
      const access = jwtPermissions(identity, resolveRole);
      if (!access) throw refuse('no_role');
      const principal: Principal = {
        id: `jwt:${identity.subject}`,
        role: access.role,
        permissions: access.permissions,
        authMethod: 'jwt',
        credentialId: identity.tokenId ?? `jwt:${identity.subject}`,
        expiresAt: identity.expiresAt,
        ...(identity.tenant ? { tenant: identity.tenant } : {}),
      };
      return principal;
    },
  };
}
