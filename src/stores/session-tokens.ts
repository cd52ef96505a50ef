import { createHash, randomBytes } from 'node:crypto';
import type { StateStore } from './types.js';

/** A freshly issued session token. `token` is the secret; show it once. */
export interface IssuedSessionToken {
  token: string;
  /** Non-secret id (`session:<id>` is the principal id). */
  id: string;
  expiresAt: number;
}

/** What the store keeps for a live token (never the token itself). */
export interface SessionTokenRecord {
  id: string;
  role: string;
  /** Expiry in ms since the epoch. */
  expiresAt: number;
}

/** Development session tokens on a {@link StateStore}: shared by every replica when the store is. */
export interface SessionTokenStore {
  issue(role: string, ttlMs: number): Promise<IssuedSessionToken>;
  /** The record of a live token, or undefined. */
  lookup(token: string): Promise<SessionTokenRecord | undefined>;
  revoke(token: string): Promise<void>;
}

/** Session tokens carry this prefix so that logs can redact them and humans can recognise them. */
export const SESSION_TOKEN_PREFIX = 'mcpg_sess_';

const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * Creates the session-token store. Tokens hold 256 random bits; the store
 * keeps only their SHA-256 hash, with a TTL, so expired tokens vanish by themselves.
 */
export function createSessionTokenStore(state: StateStore, keyPrefix = 'st:'): SessionTokenStore {
  return {
    async issue(role, ttlMs) {
      const token = `${SESSION_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      const hash = hashOf(token);
      const record: SessionTokenRecord = { id: hash.slice(0, 16), role, expiresAt: Date.now() + ttlMs };
      await state.set(`${keyPrefix}${hash}`, JSON.stringify(record), ttlMs);
      return { token, id: record.id, expiresAt: record.expiresAt };
    },
    async lookup(token) {
      if (!token.startsWith(SESSION_TOKEN_PREFIX)) return undefined;
      const raw = await state.get(`${keyPrefix}${hashOf(token)}`);
      if (raw === undefined) return undefined;
      const record = JSON.parse(raw) as SessionTokenRecord;
      return record.expiresAt > Date.now() ? record : undefined;
    },
    async revoke(token) {
      await state.delete(`${keyPrefix}${hashOf(token)}`);
    },
  };
}
