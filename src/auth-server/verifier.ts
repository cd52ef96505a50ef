import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Principal } from '../core/principal.js';
import { looksLikeJwt } from '../credentials/jwt.js';
import { ErrorCode } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';
import { jwtPermissions } from '../middleware/auth/jwt.js';
import type { CredentialVerifier, RoleResolver } from '../middleware/auth/verifier.js';

/** Options of {@link createAccessTokenVerifier}. */
export interface AccessTokenVerifierOptions {
  issuer: string;
  /** The MCP endpoint's URL: the only audience accepted (RFC 8707). */
  resource: string;
  /** The published signing keys; a function so that a key rotation takes effect without a restart. */
  jwks: () => JSONWebKeySet;
  resolveRole: RoleResolver;
  /** False once the grant behind a token was revoked (refresh-token reuse, revocation) or expired. */
  grantIsActive: (grantId: string) => Promise<boolean>;
  /** Tolerance on `exp`, seconds. Default 30. */
  clockSkewSec?: number;
}

const refuse = (reason: string) => new GuardError(ErrorCode.InvalidToken, 'The access token is invalid', { reason });

/**
 * Verifies the access tokens this server's authorization server issued:
 * JWTs (RFC 9068, `typ: at+jwt`) signed by one of its keys, from its issuer,
 * for this resource only, unexpired, whose grant is still active. A JWT from
 * another issuer is not this verifier's to judge (it returns `undefined`), so
 * an external issuer's verifier may still accept it. Permissions are the
 * token's role narrowed by its scopes, as for any JWT.
 *
 * @example createAccessTokenVerifier({ issuer, resource, jwks: () => keys.publicJwks, resolveRole, grantIsActive })
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): CredentialVerifier {
  const { issuer, resource, resolveRole, grantIsActive, clockSkewSec = 30 } = options;
  let keySet = options.jwks();
  let verifyKey = createLocalJWKSet(keySet);
  const currentKey = () => {
    const latest = options.jwks();
    if (latest !== keySet) {
      keySet = latest;
      verifyKey = createLocalJWKSet(latest);
    }
    return verifyKey;
  };
  return {
    name: 'oauth-access-token',
    async verify(credential) {
      if (credential.source !== 'authorization' || !looksLikeJwt(credential.value)) return undefined;
      let claimedIssuer: unknown;
      try {
        claimedIssuer = decodeJwt(credential.value).iss;
      } catch {
        return undefined;
      }
      if (claimedIssuer !== issuer) return undefined;
      let payload;
      try {
        ({ payload } = await jwtVerify(credential.value, currentKey(), {
          issuer,
          audience: resource,
          typ: 'at+jwt',
          algorithms: ['ES256', 'RS256'],
          clockTolerance: clockSkewSec,
          requiredClaims: ['exp', 'sub', 'jti', 'client_id'],
        }));
      } catch (error) {
        const code = (error as { code?: string }).code;
        throw refuse(
          code === 'ERR_JWT_EXPIRED' ? 'expired' : code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' ? 'wrong_claims' : 'bad_signature',
        );
      }
      const { sub, exp, jti, scope, role, tenant, gid } = payload as Record<string, unknown>;
      if (typeof gid !== 'string' || typeof role !== 'string' || (tenant !== undefined && typeof tenant !== 'string'))
        throw refuse('invalid_claims');
      if (!(await grantIsActive(gid))) throw refuse('revoked');
      const access = jwtPermissions(
        {
          subject: String(sub),
          role,
          permissions: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [],
          expiresAt: Number(exp),
        },
        resolveRole,
      );
      if (!access) throw refuse('no_role');
      const principal: Principal = {
        id: `oauth:${String(sub)}`,
        role: access.role,
        permissions: access.permissions,
        authMethod: 'jwt',
        credentialId: String(jti),
        expiresAt: Number(exp),
        ...(typeof tenant === 'string' ? { tenant } : {}),
      };
      return principal;
    },
  };
}
