import { createHash, randomBytes } from 'node:crypto';
import type { StateStore } from './types.js';

/** A freshly issued session token. `token` is the secret; show it once. */
export interface IssuedSessionToken {
  token: string;
  /** Non-secret id (`session:<id>` is the principal id). */
  id: string;
  /** Hard expiry in ms since the epoch; absent when the token lives as long as its owner renews it. */
  expiresAt?: number;
}

/** What the store keeps for a live token (never the token itself). */
export interface SessionTokenRecord {
  id: string;
  role: string;
  /** Hard expiry in ms since the epoch; absent when the token lives as long as its owner renews it. */
  expiresAt?: number;
  /** Accepted only from loopback client addresses. */
  loopbackOnly?: boolean;
}

/** How a token is issued. */
export interface IssueOptions {
  /** Hard lifetime, ms. Default none: the token lives while its owner renews it. */
  ttlMs?: number;
  /**
   * How long the token outlives its last renewal, ms: the bound on how long it
   * survives an owner (a stream, a process) that died without revoking it.
   */
  leaseMs: number;
  /** Accept the token only from loopback addresses. Default false. */
  loopbackOnly?: boolean;
}

/** Development session tokens on a {@link StateStore}: shared by every replica when the store is. */
export interface SessionTokenStore {
  issue(role: string, options: IssueOptions): Promise<IssuedSessionToken>;
  /** Extends a live token by `leaseMs` (never past its hard expiry); false when it is gone. */
  renew(token: string, leaseMs: number): Promise<boolean>;
  /** The record of a live token, or undefined. */
  lookup(token: string): Promise<SessionTokenRecord | undefined>;
  revoke(token: string): Promise<void>;
}

/** Session tokens carry this prefix so that logs can redact them and humans can recognise them. */
export const SESSION_TOKEN_PREFIX = 'mcpg_sess_';

const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * Creates the session-token store. Tokens hold 256 random bits; the store
 * keeps only their SHA-256 hash. Each record expires from the store one lease
 * after its last renewal, so a token whose owner crashed dies by itself.
 */
export function createSessionTokenStore(state: StateStore, keyPrefix = 'st:'): SessionTokenStore {
  const keyOf = (token: string) => `${keyPrefix}${hashOf(token)}`;
  const leaseOf = (record: SessionTokenRecord, leaseMs: number) =>
    record.expiresAt === undefined ? leaseMs : Math.min(leaseMs, record.expiresAt - Date.now());
  return {
    async issue(role, { ttlMs, leaseMs, loopbackOnly }) {
      const token = `${SESSION_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      const hash = hashOf(token);
      const record: SessionTokenRecord = {
        id: hash.slice(0, 16),
        role,
        ...(ttlMs !== undefined ? { expiresAt: Date.now() + ttlMs } : {}),
        ...(loopbackOnly ? { loopbackOnly } : {}),
      };
      await state.set(`${keyPrefix}${hash}`, JSON.stringify(record), leaseOf(record, leaseMs));
      return { token, id: record.id, ...(record.expiresAt !== undefined ? { expiresAt: record.expiresAt } : {}) };
    },
    async renew(token, leaseMs) {
      const raw = await state.get(keyOf(token));
      if (raw === undefined) return false;
      const lease = leaseOf(JSON.parse(raw) as SessionTokenRecord, leaseMs);
      if (lease <= 0) return false;
      await state.set(keyOf(token), raw, lease);
      return true;
    },
    async lookup(token) {
      if (!token.startsWith(SESSION_TOKEN_PREFIX)) return undefined;
      const raw = await state.get(keyOf(token));
      if (raw === undefined) return undefined;
      const record = JSON.parse(raw) as SessionTokenRecord;
      return record.expiresAt === undefined || record.expiresAt > Date.now() ? record : undefined;
    },
    async revoke(token) {
      await state.delete(keyOf(token));
    },
  };
}

/** A token kept alive by its owner. */
export interface HeldSessionToken extends IssuedSessionToken {
  /** Stops renewing and revokes the token (waits for a renewal in flight, so it cannot come back). */
  release(): Promise<void>;
}

/** Options of {@link holdSessionToken}. */
export interface HoldOptions extends IssueOptions {
  /** Called once when a renewal finds the token gone (expired or revoked elsewhere). */
  onLost?(): void;
  /** Called with a renewal that failed (the store is unreachable); renewing goes on. */
  onError?(error: unknown): void;
}

/**
 * Issues a token and renews it three times per lease while the caller holds
 * it: the heartbeat of its owner. If the owner's process dies without
 * releasing it, the token expires within one lease (shared stores such as
 * Redis keep no token longer than that).
 *
 * @example const held = await holdSessionToken(store, 'operator', { leaseMs: 30_000 }); ...; await held.release();
 */
export async function holdSessionToken(store: SessionTokenStore, role: string, options: HoldOptions): Promise<HeldSessionToken> {
  const { onLost, onError, ...issue } = options;
  const issued = await store.issue(role, issue);
  let released = false;
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(
    () => {
      renewing = renewing.then(async () => {
        if (released) return;
        try {
          if (await store.renew(issued.token, issue.leaseMs)) return;
          clearInterval(timer);
          onLost?.();
        } catch (error) {
          onError?.(error);
        }
      });
    },
    Math.max(50, Math.floor(issue.leaseMs / 3)),
  );
  timer.unref();
  return {
    ...issued,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await renewing;
      await store.revoke(issued.token);
    },
  };
}
