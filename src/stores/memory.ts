import { EventEmitter } from 'node:events';
import { admitInOrder, type BucketResult, type BucketSpec, type CounterResult, type StateStore } from './types.js';

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Upper bound on stored entries; the oldest are evicted first. Default 100,000. */
  maxEntries?: number;
  /** How often expired entries are swept, in ms. Default 60,000. */
  sweepIntervalMs?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  value: string;
  expiresAt: number;
  // Numeric state of counters and buckets, kept beside the string value.
  n: number;
  t: number;
}

/**
 * An in-process {@link StateStore}: the embedded default. Memory stays bounded
 * under a flood of distinct keys: expired entries are swept and, past
 * `maxEntries`, the oldest entries are evicted.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): StateStore {
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const bus = new EventEmitter();
  bus.setMaxListeners(0);

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  const put = (key: string, entry: Entry): void => {
    entries.delete(key);
    entries.set(key, entry);
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
  };
  const sweep = (): void => {
    const t = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= t) entries.delete(key);
  };
  const timer = setInterval(sweep, options.sweepIntervalMs ?? 60_000);
  timer.unref();

  const store: StateStore = {
    kind: 'memory',
    async get(key) {
      return live(key)?.value;
    },
    async set(key, value, ttlMs) {
      put(key, { value, expiresAt: now() + ttlMs, n: 0, t: 0 });
    },
    async setIfAbsent(key, value, ttlMs) {
      if (live(key)) return false;
      put(key, { value, expiresAt: now() + ttlMs, n: 0, t: 0 });
      return true;
    },
    async setIfPresent(key, value, ttlMs) {
      if (!live(key)) return false;
      put(key, { value, expiresAt: now() + ttlMs, n: 0, t: 0 });
      return true;
    },
    async delete(key) {
      entries.delete(key);
    },
    async increment(key, windowMs): Promise<CounterResult> {
      const t = now();
      const entry = live(key);
      if (entry) {
        entry.n += 1;
        entry.value = String(entry.n);
        return { count: entry.n, resetMs: entry.expiresAt - t };
      }
      put(key, { value: '1', expiresAt: t + windowMs, n: 1, t });
      return { count: 1, resetMs: windowMs };
    },
    async take(key, spec: BucketSpec): Promise<BucketResult> {
      const t = now();
      const cost = spec.cost ?? 1;
      const entry = live(key);
      const tokens = entry ? Math.min(spec.capacity, entry.n + (t - entry.t) * spec.refillPerMs) : spec.capacity;
      const allowed = tokens >= cost;
      const left = allowed ? tokens - cost : tokens;
      // The bucket is forgotten once it would be full again.
      const fullInMs = Math.ceil((spec.capacity - left) / spec.refillPerMs);
      put(key, { value: '', expiresAt: t + Math.max(1, fullInMs), n: left, t });
      return {
        allowed,
        remaining: Math.floor(left),
        retryAfterMs: allowed ? 0 : Math.ceil((cost - left) / spec.refillPerMs),
      };
    },
    // One process: the operations one after the other, exactly as the limits ran them before `admit`.
    admit: (ops) => admitInOrder(store, ops),
    async publish(channel, message) {
      bus.emit(channel, message);
    },
    async subscribe(channel, handler) {
      bus.on(channel, handler);
      return () => bus.off(channel, handler);
    },
    healthy: () => true,
    ping: async () => true,
    async shutdown() {
      clearInterval(timer);
      entries.clear();
      bus.removeAllListeners();
    },
  };
  return store;
}
