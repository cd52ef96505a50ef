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
