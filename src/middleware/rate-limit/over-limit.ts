/** Clients known past their per-IP limit, until their window ends. */
export interface OverLimitMemo {
  /** Remembers `key` as past its limit for `resetMs` more. */
  remember(key: string, resetMs: number): void;
  /** Milliseconds `key` stays past its limit (0 or less when it is not known to be). */
  leftMs(key: string): number;
}

/**
 * Clients this process saw past their per-IP limit, so that the composed stack refuses them before
 * authentication and with no round trip, as when the limit ran first. Exact while it lasts: a fixed
 * window only ever counts up until it resets. Bounded: past `maxEntries` the oldest are dropped (and
 * counted in the store again).
 */
export function createOverLimitMemo(maxEntries = 10_000, now: () => number = Date.now): OverLimitMemo {
  const until = new Map<string, number>();
  return {
    remember(key, resetMs) {
      until.delete(key);
      until.set(key, now() + resetMs);
      if (until.size > maxEntries) until.delete(until.keys().next().value!);
    },
    leftMs(key) {
      if (until.size === 0) return 0;
      const left = (until.get(key) ?? 0) - now();
      if (left <= 0) until.delete(key);
      return left;
    },
  };
}
