import type { StateStore } from '../stores/types.js';

/** What the OAuth library stores: a JSON object per model and id. */
export type AdapterPayload = Record<string, unknown> & { grantId?: string; uid?: string; consumed?: unknown };

/** The storage interface oidc-provider expects of an adapter (one instance per model). */
export interface OidcAdapter {
  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  findByUid(uid: string): Promise<AdapterPayload | undefined>;
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

/** Options of {@link createStoreAdapter}. */
export interface StoreAdapterOptions {
  store: StateStore;
  /** Key prefix inside the store. Default `as:`. */
  prefix?: string;
  /** Lifetime of records saved without one (dynamically registered clients), seconds. */
  defaultTtlSec: number;
  /** How long a revoked grant is remembered: at least the longest lifetime of anything issued from it, seconds. */
  grantMemorySec: number;
  /**
   * Thrown when a second consumer loses the race for a one-time artifact (a code, a rotated refresh
   * token): the library's `InvalidGrant`, so the loser gets `invalid_grant` and never a 500.
   */
  consumedError: () => Error;
}

/**
 * The OAuth library's storage on the project's {@link StateStore}, so every
 * replica sharing Redis sees the same grants, codes, refresh tokens, sessions,
 * interactions and registered clients. Two properties the library's own
 * check-then-act cannot give across replicas come from atomic store operations:
 *
 * - consuming a code or refresh token is a set-if-absent marker: of two
 *   concurrent redemptions one wins; the other fails and revokes the grant,
 *   exactly as a later replay does (reuse detection);
 * - revoking a grant is one write of a marker that every lookup of anything
 *   issued from it checks, so there is no index of tokens to keep in step.
 *
 * @example new Provider(issuer, { adapter: (name) => createStoreAdapter(name, { store, ... }) })
 */
export function createStoreAdapter(model: string, options: StoreAdapterOptions): OidcAdapter {
  const { store, prefix = 'as:', defaultTtlSec, grantMemorySec, consumedError } = options;
  const key = (id: string) => `${prefix}${model}:${id}`;
  const consumedKey = (id: string) => `${prefix}${model}:consumed:${id}`;
  const uidKey = (uid: string) => `${prefix}${model}:uid:${uid}`;
  const revokedKey = (grantId: string) => `${prefix}revoked-grant:${grantId}`;
  const revokeGrant = async (grantId: string) => {
    await store.set(revokedKey(grantId), '1', grantMemorySec * 1000);
    await store.delete(`${prefix}Grant:${grantId}`);
  };

  const adapter: OidcAdapter = {
    async upsert(id, payload, expiresIn) {
      const ttlMs = Math.max(1, expiresIn ?? defaultTtlSec) * 1000;
      await store.set(key(id), JSON.stringify(payload), ttlMs);
      if (typeof payload.uid === 'string') await store.set(uidKey(payload.uid), id, ttlMs);
    },
    async find(id) {
      if (typeof id !== 'string' || id.length === 0 || id.length > 512) return undefined;
      const raw = await store.get(key(id));
      if (raw === undefined) return undefined;
      const payload = JSON.parse(raw) as AdapterPayload;
      const grantId = model === 'Grant' ? id : payload.grantId;
      if (typeof grantId === 'string' && (await store.get(revokedKey(grantId))) !== undefined) return undefined;
      const consumed = await store.get(consumedKey(id));
      return consumed === undefined ? payload : { ...payload, consumed: Number(consumed) };
    },
    async findByUid(uid) {
      const id = await store.get(uidKey(uid));
      return id === undefined ? undefined : adapter.find(id);
    },
    async findByUserCode() {
      return undefined; // the device flow is not enabled
    },
    async consume(id) {
      const raw = await store.get(key(id));
      const payload = raw === undefined ? undefined : (JSON.parse(raw) as AdapterPayload & { exp?: number });
      const ttlMs = payload?.exp ? Math.max(1, payload.exp * 1000 - Date.now()) : defaultTtlSec * 1000;
      const first = await store.setIfAbsent(consumedKey(id), String(Math.floor(Date.now() / 1000)), Math.max(ttlMs, 60_000));
      if (!first) {
        if (typeof payload?.grantId === 'string') await revokeGrant(payload.grantId);
        throw consumedError();
      }
    },
    async destroy(id) {
      await store.delete(key(id));
    },
    async revokeByGrantId(grantId) {
      await revokeGrant(grantId);
    },
  };
  return adapter;
}

/** True while a grant exists and was not revoked (what an access token needs besides its signature). */
export async function grantIsActive(store: StateStore, grantId: string, prefix = 'as:'): Promise<boolean> {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(grantId)) return false;
  if ((await store.get(`${prefix}revoked-grant:${grantId}`)) !== undefined) return false;
  return (await store.get(`${prefix}Grant:${grantId}`)) !== undefined;
}
