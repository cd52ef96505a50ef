import { z } from 'zod';
import { fn, parseOptions, service } from '../../core/options.js';
import type { Principal } from '../../core/principal.js';
import { parseApiKey } from '../../credentials/api-key-format.js';
import { checkApiKey, type ApiKeyStore } from '../../credentials/api-key-store.js';
import type { RevocationList } from '../../credentials/revocations.js';
import { ErrorCode } from '../../errors/codes.js';
import { GuardError } from '../../errors/guard-error.js';
import type { CredentialVerifier, RoleResolver } from './verifier.js';

const optionsSchema = z.strictObject({
  keys: service<ApiKeyStore>(),
  revocations: service<RevocationList>().optional(),
  resolveRole: fn<RoleResolver>(),
});

/** Options of {@link createApiKeyStoreVerifier}. */
export interface ApiKeyStoreVerifierOptions {
  /** The key store (see `openApiKeyStore`). */
  keys: ApiKeyStore;
  /** Revocations shared by replicas (Redis); checked on every request when set. */
  revocations?: RevocationList;
  resolveRole: RoleResolver;
}

/** The permissions of a key: its role's, narrowed to the key's own list when it has one. */
function permissionsOf(role: readonly string[], narrowed: readonly string[] | undefined): readonly string[] {
  return narrowed ? narrowed.filter((permission) => role.includes('*') || role.includes(permission)) : role;
}

/**
 * Verifies key-store API keys (`mcpg_live_...`, `mcpg_test_...`) given in
 * `X-API-Key` or as a bearer token. Unknown, wrong, expired, revoked and
 * out-of-allowlist keys all get the same 401; the reason is in the error's
 * `details.reason` for the audit log only.
 *
 * @example createApiKeyStoreVerifier({ keys: openApiKeyStore({ path }), resolveRole })
 */
export function createApiKeyStoreVerifier(options: ApiKeyStoreVerifierOptions): CredentialVerifier {
  const { keys, revocations, resolveRole } = parseOptions('createApiKeyStoreVerifier', optionsSchema, options);
  const refuse = (reason: string) => new GuardError(ErrorCode.InvalidToken, 'The access token is invalid', { reason });
  return {
    name: 'api-key-store',
    async verify(credential, req) {
      const parsed = parseApiKey(credential.value);
      if (!parsed) return undefined;
      const loaded = keys.lookup(parsed.id);
      const checked = checkApiKey(credential.value, loaded, req.ip);
      if (!checked.ok) throw refuse(checked.reason);
      if (revocations && (await revocations.isRevoked(parsed.id))) throw refuse('revoked');
      const { record } = loaded!;
      const rolePermissions = resolveRole(record.role);
      if (!rolePermissions) throw refuse('unknown_role');
      keys.touch(record.id);
      const principal: Principal = {
        id: `key:${record.id}`,
        role: record.role,
        permissions: permissionsOf(rolePermissions, record.permissions),
        authMethod: 'api-key',
        credentialId: record.id,
        ...(record.tenant ? { tenant: record.tenant } : {}),
        ...(record.expiresAt ? { expiresAt: Math.floor(Date.parse(record.expiresAt) / 1000) } : {}),
        ...(record.cidrs ? { allowedCidrs: record.cidrs } : {}),
      };
      return principal;
    },
  };
}
