import { createSecretKey, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { JwtClaimNames } from './jwt.js';

/** Options of {@link generateToken}. */
export interface GenerateTokenOptions {
  /** HS256 secret shared with the verifier (at least 32 characters). */
  secret: string;
  subject: string;
  role?: string;
  permissions?: string[];
  tenant?: string;
  /** Lifetime in seconds. */
  ttlSec: number;
  issuer?: string;
  audience?: string;
  claims?: JwtClaimNames;
  /** Extra claims (never secrets: a JWT is only signed, not encrypted). */
  extra?: Record<string, string>;
}

/**
 * Issues an HS256 service-account token that {@link createJwtValidator} with
 * the same secret, issuer and audience accepts.
 *
 * @example const { token } = generateToken({ secret, subject: 'ci', role: 'operator', ttlSec: 12 * 3600 });
 */
export function generateToken(options: GenerateTokenOptions): { token: string; expiresAt: number; tokenId: string } {
  if (typeof options.secret !== 'string' || options.secret.length < 32)
    throw new TypeError('generateToken: secret must be at least 32 characters');
  if (!Number.isInteger(options.ttlSec) || options.ttlSec < 1) throw new TypeError('generateToken: ttlSec must be a positive integer');
  const names = { role: 'role', permissions: 'scope', tenant: 'tenant', ...options.claims };
  const tokenId = randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    ...options.extra,
    sub: options.subject,
    iat: now,
    exp: now + options.ttlSec,
    jti: tokenId,
    ...(options.role ? { [names.role]: options.role } : {}),
    ...(options.permissions?.length ? { [names.permissions]: options.permissions.join(' ') } : {}),
    ...(options.tenant ? { [names.tenant]: options.tenant } : {}),
    ...(options.issuer ? { iss: options.issuer } : {}),
    ...(options.audience ? { aud: options.audience } : {}),
  };
  const token = jwt.sign(payload, createSecretKey(Buffer.from(options.secret, 'utf8')), { algorithm: 'HS256' });
  return { token, expiresAt: now + options.ttlSec, tokenId };
}
