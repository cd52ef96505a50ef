import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { parseOptions, service } from '../core/options.js';
import { pinKey, type JwksCache, type PinnedKey } from './jwks.js';

/** Why a JWT was refused. Goes to the audit log and metrics, never to the client. */
export type JwtFailure =
  | 'malformed'
  | 'unsupported_crit'
  | 'algorithm_not_allowed'
  | 'unknown_kid'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'invalid_claims';

/** A refused JWT; `reason` is for the audit log only. */
export class JwtError extends Error {
  readonly reason: JwtFailure;
  constructor(reason: JwtFailure) {
    super(`JWT refused: ${reason}`);
    this.name = 'JwtError';
    this.reason = reason;
  }
}

/** Claim names to read the role, permissions (scopes) and tenant from. */
export interface JwtClaimNames {
  /** Default `role`. */
  role?: string;
  /** A space-separated string or an array. Default `scope`. */
  permissions?: string;
  /** Default `tenant`. */
  tenant?: string;
}

/** Options of {@link createJwtValidator}. At least one of `secret`, `publicKey`, `jwks`. */
export interface JwtValidatorOptions {
  /** HS256 secret (at least 32 characters). HS256 tokens are accepted only when set. */
  secret?: string;
  /** RS256 (RSA >= 2048) or ES256 (P-256) public key, PEM or KeyObject. */
  publicKey?: string | KeyObject;
  /** Keys of an authorization server by `kid` (RS256/ES256). */
  jwks?: JwksCache;
  /** Required `iss`. Default: not checked. */
  issuer?: string;
  /** Required `aud` (this resource, RFC 8707); any listed value is accepted. Default: not checked (warned about). */
  audience?: string | string[];
  /** Clock skew tolerated on `exp`/`nbf`, in seconds. Default 30. */
  clockSkewSec?: number;
  claims?: JwtClaimNames;
}

/** What a valid token says about its holder. */
export interface JwtIdentity {
  subject: string;
  role?: string;
  permissions?: string[];
  tenant?: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  tokenId?: string;
}

const optionsSchema = z.strictObject({
  secret: z.string().min(32).optional(),
  publicKey: z.union([z.string().min(1), service<KeyObject>()]).optional(),
  jwks: service<JwksCache>().optional(),
  issuer: z.string().min(1).optional(),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  clockSkewSec: z.number().int().min(0).max(300).optional(),
  claims: z
    .strictObject({ role: z.string().min(1).optional(), permissions: z.string().min(1).optional(), tenant: z.string().min(1).optional() })
    .optional(),
});

const payloadSchema = z.looseObject({
  sub: z.string().min(1).max(256),
  exp: z.number().int(),
  nbf: z.number().optional(),
  iat: z.number().optional(),
  jti: z.string().max(256).optional(),
});
const claimText = z.string().min(1).max(128);
const permissionsClaim = z.union([z.string().max(4096), z.array(z.string().min(1).max(128)).max(256)]);

const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** True when a credential looks like a compact JWS (so a JWT verifier should judge it). */
export function looksLikeJwt(value: string): boolean {
  return JWT_SHAPE.test(value);
}

function failureOf(error: unknown): JwtFailure {
  if (error instanceof jwt.TokenExpiredError) return 'expired';
  if (error instanceof jwt.NotBeforeError) return 'not_yet_valid';
  const message = error instanceof Error ? error.message : '';
  if (message.startsWith('jwt audience invalid')) return 'wrong_audience';
  if (message.startsWith('jwt issuer invalid')) return 'wrong_issuer';
  if (message.includes('algorithm')) return 'algorithm_not_allowed';
  if (message === 'invalid signature') return 'bad_signature';
  return 'malformed';
}

/**
 * Creates a JWT validator. Every key is pinned to one algorithm (HS256 for
 * the secret, RS256 or ES256 for a public key by its type), so `alg: none`
 * and HS256 tokens signed with a public key are refused. Keys are imported
 * once here (jsonwebtoken re-imports string keys on every call). `exp` is
 * required; `nbf`, `iss` and `aud` are checked with the clock skew; the
 * payload is validated with zod.
 *
 * @example const validate = createJwtValidator({ secret, issuer: 'https://auth.example.com', audience: 'https://mcp.example.com/mcp' });
 */
export function createJwtValidator(options: JwtValidatorOptions): (token: string) => Promise<JwtIdentity> {
  const resolved = parseOptions('createJwtValidator', optionsSchema, options);
  const { issuer, audience, clockSkewSec = 30, jwks } = resolved;
  if (!resolved.secret && !resolved.publicKey && !jwks) throw new TypeError('createJwtValidator: configure secret, publicKey or jwks');
  const secret = resolved.secret ? createSecretKey(Buffer.from(resolved.secret, 'utf8')) : undefined;
  let publicKey: PinnedKey | undefined;
  if (resolved.publicKey) {
    publicKey = pinKey(typeof resolved.publicKey === 'string' ? createPublicKey(resolved.publicKey) : resolved.publicKey);
    if (!publicKey) throw new TypeError('createJwtValidator: publicKey must be an RSA (2048 bits or more) or P-256 public key');
  }
  const names = { role: 'role', permissions: 'scope', tenant: 'tenant', ...resolved.claims };

  const keyFor = async (alg: unknown, kid: string | undefined): Promise<{ key: KeyObject; algorithm: jwt.Algorithm }> => {
    if (alg === 'HS256') {
      if (!secret) throw new JwtError('algorithm_not_allowed');
      return { key: secret, algorithm: 'HS256' };
    }
    if (alg !== 'RS256' && alg !== 'ES256') throw new JwtError('algorithm_not_allowed');
    const pinned = (publicKey && (kid === undefined || !jwks) ? publicKey : undefined) ?? (jwks ? await jwks.getKey(kid) : undefined);
    if (!pinned) throw new JwtError(jwks ? 'unknown_kid' : 'algorithm_not_allowed');
    if (pinned.algorithm !== alg) throw new JwtError('algorithm_not_allowed');
    return pinned;
  };

  return async function validateJwt(token) {
    if (!looksLikeJwt(token)) throw new JwtError('malformed');
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.payload === 'string') throw new JwtError('malformed');
    // RFC 7515 4.1.11: extensions listed in `crit` must be understood and processed; this validator
    // implements none (jsonwebtoken ignores the header), so any `crit` refuses the token.
    if (Object.hasOwn(decoded.header, 'crit')) throw new JwtError('unsupported_crit');
    const kid = typeof decoded.header.kid === 'string' ? decoded.header.kid : undefined;
    const { key, algorithm } = await keyFor(decoded.header.alg, kid);
    let payload: unknown;
    try {
      payload = jwt.verify(token, key, {
        algorithms: [algorithm],
        clockTolerance: clockSkewSec,
        ...(issuer ? { issuer } : {}),
        ...(audience ? { audience: Array.isArray(audience) ? (audience as [string, ...string[]]) : audience } : {}),
      });
    } catch (error) {
      throw new JwtError(failureOf(error));
    }
    const parsed = payloadSchema.safeParse(payload);
    if (!parsed.success) throw new JwtError('invalid_claims');
    const claims = parsed.data as Record<string, unknown>;
    const role = claims[names.role];
    const permissions = claims[names.permissions];
    const tenant = claims[names.tenant];
    if (role !== undefined && !claimText.safeParse(role).success) throw new JwtError('invalid_claims');
    if (tenant !== undefined && !claimText.safeParse(tenant).success) throw new JwtError('invalid_claims');
    if (permissions !== undefined && !permissionsClaim.safeParse(permissions).success) throw new JwtError('invalid_claims');
    return {
      subject: parsed.data.sub,
      expiresAt: parsed.data.exp,
      ...(typeof role === 'string' ? { role } : {}),
      ...(permissions !== undefined
        ? { permissions: typeof permissions === 'string' ? permissions.split(' ').filter(Boolean) : (permissions as string[]) }
        : {}),
      ...(typeof tenant === 'string' ? { tenant } : {}),
      ...(parsed.data.jti ? { tokenId: parsed.data.jti } : {}),
    };
  };
}
