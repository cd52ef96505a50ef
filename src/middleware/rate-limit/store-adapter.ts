import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type { StateStore } from '../../stores/types.js';

// Which state store (and prefix) each adapter counts in, so that the composed stack can count the
// per-IP limit together with the other limits of a request (src/middleware/rate-limit/admission.ts).
const backings = new WeakMap<Store, { store: StateStore; prefix: string }>();

/** The state store and key prefix an adapter made by {@link createLimiterStore} counts in. */
export function limiterStoreBacking(store: Store): { store: StateStore; prefix: string } | undefined {
  return backings.get(store);
}

/**
 * An express-rate-limit `Store` on mcp-guard's {@link StateStore}: one
 * fixed-window counter per client, one round trip per request on Redis, and
 * the same store (and the same Redis fallback) as every other limit.
 */
export function createLimiterStore(store: StateStore, prefix = 'rl:ip:'): Store {
  let windowMs = 60_000;
  const adapter: Store = {
    prefix,
    localKeys: store.kind === 'memory',
    init(options: Options) {
      windowMs = options.windowMs;
    },
    async get(key: string): Promise<ClientRateLimitInfo | undefined> {
      const value = await store.get(`${prefix}${key}`);
      return value === undefined ? undefined : { totalHits: Number(value), resetTime: undefined };
    },
    async increment(key: string): Promise<ClientRateLimitInfo> {
      const { count, resetMs } = await store.increment(`${prefix}${key}`, windowMs);
      return { totalHits: count, resetTime: new Date(Date.now() + resetMs) };
    },
    // Only used with skipSuccessfulRequests/skipFailedRequests, which mcp-guard does not set.
    async decrement() {},
    async resetKey(key: string) {
      await store.delete(`${prefix}${key}`);
    },
  };
  backings.set(adapter, { store, prefix });
  return adapter;
}
