/** Result of taking from a token bucket. */
export interface BucketResult {
  allowed: boolean;
  /** Whole tokens left after this take. */
  remaining: number;
  /** Milliseconds until `cost` tokens are available again (0 when allowed). */
  retryAfterMs: number;
}

/** Parameters of a token bucket. */
export interface BucketSpec {
  /** Maximum tokens (the burst size). */
  capacity: number;
  /** Tokens added per millisecond. */
  refillPerMs: number;
  /** Tokens this request takes. Default 1. */
  cost?: number;
}

/** Result of counting a hit in a fixed window. */
export interface CounterResult {
  count: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/**
 * One operation of {@link StateStore.admit}: a hit on a fixed-window counter
 * (refused once its count passes `limit`) or a take from a token bucket
 * (refused when the bucket lacks the tokens).
 */
export type AdmitOp = { kind: 'counter'; key: string; windowMs: number; limit: number } | { kind: 'bucket'; key: string; spec: BucketSpec };

/** The outcome of one {@link AdmitOp}, in the order of the operations. */
export type AdmitResult = ({ kind: 'counter' } & CounterResult & { allowed: boolean }) | ({ kind: 'bucket' } & BucketResult);

/**
 * The shared state behind session tokens, lockouts, revocations and rate
 * limits. The memory implementation serves one process; the Redis one is
 * shared by every replica. Keys are namespaced by the caller.
 */
export interface StateStore {
  /** `memory` or `redis`: shown in `/ready` and the start-up summary. */
  readonly kind: string;
  get(key: string): Promise<string | undefined>;
  /** Sets `key` to `value`, expiring after `ttlMs`. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Sets `key` only if it does not exist; true when it was set (one winner across replicas). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * Sets `key` only if it exists (a new value and TTL); true when it was set. Never re-creates a key
   * that was deleted meanwhile, so "extend unless revoked" needs no separate check (Redis `SET XX`).
   */
  setIfPresent(key: string, value: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Counts a hit in the fixed window that starts with the first hit. */
  increment(key: string, windowMs: number): Promise<CounterResult>;
  /** Atomically takes tokens from a bucket. */
  take(key: string, spec: BucketSpec): Promise<BucketResult>;
  /**
   * Runs `ops` in order, atomically, and stops at the first one refused: the operations after it are
   * not run (a request refused by one limit spends nothing of the next). Returns the outcome of each
   * operation run, so the last one is the refusal when fewer results than operations come back. On
   * Redis this is one round trip (one script) for every counter of a request. Optional for stores of
   * your own: without it, the operations run one by one ({@link admitInOrder}).
   */
  admit?(ops: readonly AdmitOp[]): Promise<AdmitResult[]>;
  /** Sends `message` to every subscriber of `channel` (in every replica). */
  publish(channel: string, message: string): Promise<void>;
  /** Calls `handler` for each message on `channel`; returns an unsubscribe function. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => void>;
  /** True while the store answers (false once a command or a ping timed out, until it answers again). */
  healthy(): boolean;
  /**
   * One round trip within `deadlineMs`: true when the store answered in time. Never waits longer and
   * never rejects, so readiness can ask it of a store that is down or hung (connection open, no answer).
   */
  ping(deadlineMs: number): Promise<boolean>;
  /** Releases timers and connections. */
  shutdown(): Promise<void>;
}

/**
 * {@link StateStore.admit} from a store's single operations, one after the other: what the memory
 * store does, and what a store without `admit` is given.
 */
export async function admitInOrder(store: StateStore, ops: readonly AdmitOp[]): Promise<AdmitResult[]> {
  const results: AdmitResult[] = [];
  for (const op of ops) {
    if (op.kind === 'counter') {
      const counted = await store.increment(op.key, op.windowMs);
      results.push({ kind: 'counter', ...counted, allowed: counted.count <= op.limit });
    } else {
      results.push({ kind: 'bucket', ...(await store.take(op.key, op.spec)) });
    }
    if (!results[results.length - 1]!.allowed) break;
  }
  return results;
}

/** {@link StateStore.admit} of `store`, or its operations one by one when it has none. */
export function admitOn(store: StateStore, ops: readonly AdmitOp[]): Promise<AdmitResult[]> {
  return store.admit ? store.admit(ops) : admitInOrder(store, ops);
}
