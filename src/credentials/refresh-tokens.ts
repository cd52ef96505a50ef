import { createHash, randomBytes } from 'node:crypto';
import type { StateStore } from '../stores/types.js';

/** Refresh tokens carry this prefix so that logs redact them and humans recognise them. */
export const REFRESH_TOKEN_PREFIX = 'mcpg_rt_';

/** Who a refresh token was issued to: the API key it came from. */
export interface RefreshGrant {
  keyId: string;
  /** The scope first granted; refreshed tokens never get more. */
  scope?: string;
}

/** The outcome of presenting a refresh token. */
export type RefreshResult =
  | { ok: true; token: string; grant: RefreshGrant; family: string }
  | { ok: false; reason: 'unknown' | 'reused' | 'family_revoked'; family?: string; grant?: RefreshGrant };

/** Rotating refresh tokens with reuse detection, kept hashed on a {@link StateStore}. */
export interface RefreshTokenStore {
  /** Starts a new family and returns its first token. */
  issue(grant: RefreshGrant): Promise<{ token: string; family: string }>;
  /**
   * Exchanges a token for its successor. A token presented a second time
   * revokes its whole family: the thief and the owner both lose it.
   */
  rotate(token: string): Promise<RefreshResult>;
}

interface StoredRefresh {
  family: string;
  grant: RefreshGrant;
}

const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * Creates the refresh-token store. Tokens hold 256 random bits; only their
 * SHA-256 is stored. A family lives while it is used (each rotation extends
 * it by `ttlMs`); used tokens are remembered for `ttlMs` to detect reuse.
 *
 * @example const refresh = createRefreshTokenStore(store, 7 * 86_400_000);
 */
export function createRefreshTokenStore(state: StateStore, ttlMs: number, prefix = 'rt:'): RefreshTokenStore {
  const familyKey = (family: string): string => `${prefix}family:${family}`;
  const saveToken = async (family: string, grant: RefreshGrant): Promise<string> => {
    const token = `${REFRESH_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record: StoredRefresh = { family, grant };
    await state.set(`${prefix}token:${hashOf(token)}`, JSON.stringify(record), ttlMs);
    return token;
  };
  return {
    async issue(grant) {
      const family = randomBytes(12).toString('hex');
      await state.set(familyKey(family), '1', ttlMs);
      return { token: await saveToken(family, grant), family };
    },
    async rotate(token) {
      if (!token.startsWith(REFRESH_TOKEN_PREFIX) || token.length > 128) return { ok: false, reason: 'unknown' };
      const hash = hashOf(token);
      const raw = await state.get(`${prefix}token:${hash}`);
      if (raw === undefined) return { ok: false, reason: 'unknown' };
      const { family, grant } = JSON.parse(raw) as StoredRefresh;
      // The used marker is set once, atomically: of two concurrent presentations one wins, the other is reuse.
      const first = await state.setIfAbsent(`${prefix}used:${hash}`, '1', ttlMs);
      if (!first) {
        // Revocation is one delete of the family key: atomic, and nothing below can undo it.
        await state.delete(familyKey(family));
        return { ok: false, reason: 'reused', family, grant };
      }
      // Extend the family only if it still exists (one atomic SET XX). A rotation in flight when reuse
      // detection deletes the family either loses here, or saves a token whose family is gone by the
      // time it is presented; it can never bring the family back.
      if (!(await state.setIfPresent(familyKey(family), '1', ttlMs))) return { ok: false, reason: 'family_revoked', family, grant };
      return { ok: true, token: await saveToken(family, grant), grant, family };
    },
  };
}
