import { z } from 'zod';
import { fn, parseOptions, service } from '../../core/options.js';
import type { Principal } from '../../core/principal.js';
import { ErrorCode } from '../../errors/codes.js';
import { GuardError } from '../../errors/guard-error.js';
import { SESSION_TOKEN_PREFIX, type SessionTokenStore } from '../../stores/session-tokens.js';
import type { CredentialVerifier, RoleResolver } from './verifier.js';

const LOOPBACK_CIDRS: readonly string[] = ['127.0.0.0/8', '::1/128'];

const optionsSchema = z.strictObject({ store: service<SessionTokenStore>(), resolveRole: fn<RoleResolver>() });

/** Options of {@link createSessionTokenVerifier}. */
export interface SessionTokenVerifierOptions {
  store: SessionTokenStore;
  resolveRole: RoleResolver;
}

/**
 * Verifies development session tokens (`mcpg_sess_...`, handed out over the
 * session SSE stream, or held by the process in development mode) as bearer
 * tokens. A token dies when its owner releases it, stops renewing it, or it
 * expires; one issued to a loopback client is bound to loopback addresses.
 */
export function createSessionTokenVerifier(options: SessionTokenVerifierOptions): CredentialVerifier {
  const { store, resolveRole } = parseOptions('createSessionTokenVerifier', optionsSchema, options);
  return {
    name: 'session-token',
    async verify(credential) {
      if (credential.source !== 'authorization' || !credential.value.startsWith(SESSION_TOKEN_PREFIX)) return undefined;
      const record = await store.lookup(credential.value);
      if (!record) throw new GuardError(ErrorCode.InvalidToken, 'The access token is invalid or expired');
      const permissions = resolveRole(record.role);
      if (!permissions) throw new GuardError(ErrorCode.InvalidToken, 'The access token is invalid or expired');
      const principal: Principal = {
        id: `session:${record.id}`,
        role: record.role,
        permissions,
        authMethod: 'session-token',
        credentialId: record.id,
        ...(record.expiresAt !== undefined ? { expiresAt: Math.floor(record.expiresAt / 1000) } : {}),
        // Checked right after authentication, like an API key's address list (403 from elsewhere).
        ...(record.loopbackOnly ? { allowedCidrs: LOOPBACK_CIDRS } : {}),
      };
      return principal;
    },
  };
}
