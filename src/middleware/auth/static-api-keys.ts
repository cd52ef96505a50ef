import { z } from 'zod';
import { fn, parseOptions } from '../../core/options.js';
import type { Principal } from '../../core/principal.js';
import { digestOf, findDigest } from './constant-time.js';
import type { CredentialVerifier, RoleResolver } from './verifier.js';

const optionsSchema = z.strictObject({
  keys: z.array(
    z.strictObject({
      name: z.string().min(1),
      role: z.string().min(1),
      secret: z.string().min(32),
      tenant: z.string().min(1).optional(),
      allowedCidrs: z.array(z.string()).optional(),
    }),
  ),
  resolveRole: fn<RoleResolver>(),
});

/** Options of {@link createStaticApiKeyVerifier}. */
export interface StaticApiKeyOptions {
  /** Keys with a non-secret name (the principal is `key:<name>`) and a role. */
  keys: Array<{ name: string; role: string; secret: string; tenant?: string; allowedCidrs?: string[] }>;
  resolveRole: RoleResolver;
}

/**
 * Verifies API keys given in `X-API-Key` (or as a bearer token) against a
 * fixed list, comparing with every key in constant time.
 *
 * @example createStaticApiKeyVerifier({ keys: [{ name: 'ci', role: 'operator', secret }], resolveRole })
 */
export function createStaticApiKeyVerifier(options: StaticApiKeyOptions): CredentialVerifier {
  const { keys, resolveRole } = parseOptions('createStaticApiKeyVerifier', optionsSchema, options);
  const principals: Principal[] = keys.map((key) => {
    const permissions = resolveRole(key.role);
    if (!permissions) throw new Error(`Unknown role "${key.role}" for API key "${key.name}"`);
    return Object.freeze({
      id: `key:${key.name}`,
      role: key.role,
      permissions,
      authMethod: 'api-key',
      credentialId: key.name,
      ...(key.tenant ? { tenant: key.tenant } : {}),
      ...(key.allowedCidrs?.length ? { allowedCidrs: Object.freeze([...key.allowedCidrs]) } : {}),
    } satisfies Principal);
  });
  const digests = keys.map((key) => digestOf(key.secret));
  return {
    name: 'static-api-key',
    async verify(credential) {
      const index = findDigest(credential.value, digests);
      return index === -1 ? undefined : principals[index];
    },
  };
}
