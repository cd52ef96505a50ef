import type { StateStore } from './types.js';

/** Options of {@link createStoreProbe}. */
export interface StoreProbeOptions {
  /** Longest a probe waits for the store to answer. Default 250 ms. */
  deadlineMs?: number;
  /** A result is reused for this long, so `/ready` (public) cannot make us ping the store per request. Default 1000 ms. */
  cacheMs?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * Readiness probe of a {@link StateStore}: resolves true when the store answered a ping within
 * `deadlineMs`, false when it is down (at once, when it says so itself) or hung. Never waits longer than the deadline; concurrent
 * callers share one ping, and a result is reused for `cacheMs`, so a flood of `/ready` requests
 * costs at most one round trip per second.
 *
 * @example const storeAnswers = createStoreProbe(store); if (!(await storeAnswers())) ...
 */
export function createStoreProbe(store: StateStore, options: StoreProbeOptions = {}): () => Promise<boolean> {
  const { deadlineMs = 250, cacheMs = 1000, now = Date.now } = options;
  if (!Number.isFinite(deadlineMs) || deadlineMs < 1) throw new TypeError('createStoreProbe: deadlineMs must be a positive number');
  let last: { at: number; answered: boolean } | undefined;
  let inFlight: Promise<boolean> | undefined;
  return function probeStore() {
    // A store that already knows it is down (disconnected, or marked hung) needs no round trip.
    if (!store.healthy()) return Promise.resolve(false);
    if (last && now() - last.at < cacheMs) return Promise.resolve(last.answered);
    inFlight ??= store
      .ping(deadlineMs)
      .catch(() => false)
      .then((answered) => {
        last = { at: now(), answered };
        inFlight = undefined;
        return answered;
      });
    return inFlight;
  };
}
