import { z } from 'zod';
import { fn, parseOptions } from '../../core/options.js';
import type { Principal } from '../../core/principal.js';
import { digestOf, findDigest } from './constant-time.js';
import type { CredentialVerifier, RoleResolver } from './verifier.js';

const optionsSchema = z.strictObject({
  token: z.string().min(32),
  role: z.string().optional(),
  resolveRole: fn<RoleResolver>(),
});

/** Options of {@link createStaticTokenVerifier}. */
export interface StaticTokenOptions {
  /** The shared bearer token (at least 32 characters). */
  token: string;
  /** Role of whoever presents it. Default `admin`. */
  role?: string;
  resolveRole: RoleResolver;
}

/**
 * Verifies `Authorization: Bearer <token>` against one static token in
 * constant time. The principal is `token:static`.
 *
 * @example createStaticTokenVerifier({ token: process.env.TOKEN!, resolveRole })
 */
export function createStaticTokenVerifier(options: StaticTokenOptions): CredentialVerifier {
  const { token, role = 'admin', resolveRole } = parseOptions('createStaticTokenVerifier', optionsSchema, options);
  const permissions = resolveRole(role);
  if (!permissions) throw new Error(`Unknown role "${role}" for the static token`);
  const digests = [digestOf(token)];
  const principal: Principal = Object.freeze({ id: 'token:static', role, permissions, authMethod: 'bearer', credentialId: 'static' });
  return {
    name: 'static-token',
    async verify(credential) {
      if (credential.source !== 'authorization') return undefined;
      return findDigest(credential.value, digests) === 0 ? principal : undefined;
    },
  };
}
