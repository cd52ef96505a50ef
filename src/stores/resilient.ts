import {
  admitOn,
  type AdmitOp,
  type AdmitResult,
  type BucketResult,
  type BucketSpec,
  type CounterResult,
  type StateStore,
} from './types.js';

/** Options of {@link createResilientStore}. */
export interface ResilientStoreOptions {
  /** The shared store (Redis). */
  primary: StateStore;
  /** Local store that counts while the primary is unreachable. */
  fallback: StateStore;
  /**
   * Also move reads and writes (`get`, `set`, `setIfAbsent`, `delete`) to the fallback while the
   * primary is down. For state that only throttles, never for state
   * that grants or denies access (revocations, session tokens). Default false.
   */
  degradeAll?: boolean;
  /** Called when counting moves to the fallback (`true`) or back to the primary (`false`). */
  onDegradedChange?(degraded: boolean, error?: unknown): void;
}

/** A store whose counters keep working, locally, while the shared store is down. */
export interface ResilientStore extends StateStore {
  /** True while counters and buckets run on the local fallback. */
  degraded(): boolean;
  admit(ops: readonly AdmitOp[]): Promise<AdmitResult[]>;
}

/**
 * Wraps a shared store so that rate limits degrade instead of failing: while
 * the primary is unreachable, `increment`, `take` and `admit` run on a local fallback
 * (each replica then limits on its own: degraded, neither open nor down), and
 * return to the primary by themselves once it answers again. Everything else
 * (`get`, `set`, revocation markers, session tokens) stays on the primary and
 * fails when it fails: those checks fail closed.
 *
 * @example const limits = createResilientStore({ primary: redis, fallback: createMemoryStore() });
 */
export function createResilientStore(options: ResilientStoreOptions): ResilientStore {
  const { primary, fallback, onDegradedChange, degradeAll = false } = options;
  let degraded = false;
  const mark = (value: boolean, error?: unknown): void => {
    if (degraded === value) return;
    degraded = value;
    onDegradedChange?.(value, error);
  };

  const counted = async <T>(run: (store: StateStore) => Promise<T>): Promise<T> => {
    if (primary.healthy()) {
      try {
        const result = await run(primary);
        mark(false);
        return result;
      } catch (error) {
        mark(true, error);
      }
    } else {
      mark(true);
    }
    return run(fallback);
  };

  return {
    kind: primary.kind,
    get: (key) => (degradeAll ? counted((store) => store.get(key)) : primary.get(key)),
    set: (key, value, ttlMs) => (degradeAll ? counted((store) => store.set(key, value, ttlMs)) : primary.set(key, value, ttlMs)),
    setIfAbsent: (key, value, ttlMs) =>
      degradeAll ? counted((store) => store.setIfAbsent(key, value, ttlMs)) : primary.setIfAbsent(key, value, ttlMs),
    setIfPresent: (key, value, ttlMs) =>
      degradeAll ? counted((store) => store.setIfPresent(key, value, ttlMs)) : primary.setIfPresent(key, value, ttlMs),
    delete: (key) => (degradeAll ? counted((store) => store.delete(key)) : primary.delete(key)),
    increment: (key: string, windowMs: number): Promise<CounterResult> => counted((store) => store.increment(key, windowMs)),
    take: (key: string, spec: BucketSpec): Promise<BucketResult> => counted((store) => store.take(key, spec)),
    // All of a request's counters on one side: the primary in one round trip, or all of them locally.
    admit: (ops: readonly AdmitOp[]): Promise<AdmitResult[]> => counted((store) => admitOn(store, ops)),
    publish: (channel, message) => primary.publish(channel, message),
    subscribe: (channel, handler) => primary.subscribe(channel, handler),
    healthy: () => primary.healthy(),
    ping: (deadlineMs) => primary.ping(deadlineMs),
    degraded: () => degraded || !primary.healthy(),
    // The primary belongs to the caller (it also holds the security state); only the fallback is ours.
    async shutdown() {
      await fallback.shutdown();
    },
  };
}
