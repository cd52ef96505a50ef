import type { StateStore } from '../stores/types.js';

/** Channel on which a revoked principal id is announced (the app closes its MCP sessions). */
export const PRINCIPAL_REVOKED_CHANNEL = 'principal-revoked';

/** Revoked API key ids, shared by every replica through the {@link StateStore}. */
export interface RevocationList {
  revoke(keyId: string, ttlMs: number): Promise<void>;
  isRevoked(keyId: string): Promise<boolean>;
}

/** Longest a revocation marker is kept: past it, the key has expired or been removed from every store file. */
export const MAX_REVOCATION_TTL_MS = 400 * 86_400_000;

/**
 * Creates the revocation list. `keys revoke` with `REDIS_URL` set writes the
 * marker there, so a revoked key is refused by every replica on its next
 * request, even one whose store file has not changed yet.
 */
export function createRevocationList(state: StateStore, prefix = 'key-revoked:'): RevocationList {
  return {
    async revoke(keyId, ttlMs) {
      await state.set(`${prefix}${keyId}`, '1', Math.min(Math.max(1000, ttlMs), MAX_REVOCATION_TTL_MS));
      // The key's own sessions, and those opened with access tokens minted from it.
      await state.publish(PRINCIPAL_REVOKED_CHANNEL, `key:${keyId}`);
      await state.publish(PRINCIPAL_REVOKED_CHANNEL, `jwt:key:${keyId}`);
    },
    async isRevoked(keyId) {
      return (await state.get(`${prefix}${keyId}`)) !== undefined;
    },
  };
}
