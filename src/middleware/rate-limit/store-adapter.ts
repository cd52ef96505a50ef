import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type { StateStore } from '../../stores/types.js';

/**
 * An express-rate-limit `Store` on mcp-guard's {@link StateStore}: one
 * fixed-window counter per client, one round trip per request on Redis, and
 * the same store (and the same Redis fallback) as every other limit.
 */
export function createLimiterStore(store: StateStore, prefix = 'rl:ip:'): Store {
  let windowMs = 60_000;
  return {
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
}
