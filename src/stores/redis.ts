import { Redis, type RedisOptions } from 'ioredis';
import type { AdmitOp, AdmitResult, BucketResult, CounterResult, StateStore } from './types.js';

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL. May hold a password: never log it. */
  url: string;
  /** Prefix of every key and channel, so several deployments can share one Redis. Default `mcp-guard:`. */
  prefix?: string;
  /** A command that takes longer fails (and the caller falls back or fails closed). Default 500 ms. */
  commandTimeoutMs?: number;
  /** Upper bound of the reconnect back-off. Default 2000 ms. */
  maxReconnectDelayMs?: number;
  /** How long creation waits for the first connection before returning an unhealthy store. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** How often an unresponsive (hung) Redis is pinged to see whether it answers again. Default 500 ms. */
  recheckMs?: number;
}

// Every counter and bucket of one request, in order, in one round trip: KEYS[i] is operation i, with
// four arguments each: 'c' (counter), window ms, limit, unused; or 'b' (bucket), capacity, refill per
// ms, cost. A counter is a fixed window that starts with the first hit; a bucket keeps its tokens
// (float) and the time of their last update, on Redis's own clock (replicas with skewed clocks
// agree), and is forgotten once full. The single `increment` and `take` are this script with one
// operation, so the arithmetic exists once. Stops at the
// first refusal, so a refused request spends nothing of the limits after it. Returns three numbers
// per operation run: allowed (1/0), then count and ms to reset, or tokens left and ms to retry.
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local base = (i - 1) * 4
  local a = tonumber(ARGV[base + 2])
  local b = tonumber(ARGV[base + 3])
  local allowed = 1
  if ARGV[base + 1] == 'c' then
    local count = redis.call('INCR', key)
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, a)
      ttl = a
    end
    if count > b then allowed = 0 end
    out[#out + 1] = allowed
    out[#out + 1] = count
    out[#out + 1] = ttl
  else
    local cost = tonumber(ARGV[base + 4])
    local state = redis.call('HMGET', key, 'tokens', 'ts')
    local tokens = tonumber(state[1])
    local ts = tonumber(state[2])
    if tokens == nil or ts == nil then
      tokens = a
      ts = now
    end
    tokens = math.min(a, tokens + math.max(0, now - ts) * b)
    if tokens >= cost then
      tokens = tokens - cost
    else
      allowed = 0
    end
    local full = math.ceil((a - tokens) / b)
    if full < 1 then full = 1 end
    redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
    redis.call('PEXPIRE', key, full)
    local retry = 0
    if allowed == 0 then retry = math.ceil((cost - tokens) / b) end
    out[#out + 1] = allowed
    out[#out + 1] = math.floor(tokens)
    out[#out + 1] = retry
  end
  if allowed == 0 then return out end
end
return out`;

type GuardRedis = Redis & {
  guardAdmit(keyCount: number, ...keysAndArgs: Array<string | number>): Promise<number[]>;
};

/**
 * A {@link StateStore} on Redis, shared by every replica. Each operation is
 * one round trip (counters and buckets are Lua scripts run with EVALSHA), and
 * `admit` runs every counter of a request in one script: one round trip too.
 * Commands fail fast while Redis is unreachable (no offline queue) and the
 * client keeps reconnecting; `healthy()` tells which state it is in.
 *
 * Resolves once connected, or after `connectTimeoutMs` with a store that is
 * not yet healthy (it keeps trying): start-up never hangs on Redis.
 *
 * @example const store = await createRedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'prod:' });
 */
export async function createRedisStore(options: RedisStoreOptions): Promise<StateStore> {
  const prefix = options.prefix ?? 'mcp-guard:';
  const maxDelay = options.maxReconnectDelayMs ?? 2000;
  const clientOptions: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 500,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(maxDelay, 50 * 2 ** Math.min(attempt, 10)),
    // A store must never crash the process on a connection error; health is reported instead.
    lazyConnect: false,
  };
  const client = new Redis(options.url, clientOptions) as GuardRedis;
  // The number of keys varies per request: given as the first argument.
  client.defineCommand('guardAdmit', { lua: ADMIT });
  // The subscriber keeps its offline queue so that subscriptions made before it connects are sent once it does.
  const subscriber = new Redis(options.url, {
    ...clientOptions,
    enableOfflineQueue: true,
    commandTimeout: undefined,
    maxRetriesPerRequest: null,
  });
  // Errors surface through rejected commands and healthy(); without listeners ioredis would log them.
  client.on('error', () => undefined);
  subscriber.on('error', () => undefined);

  const handlers = new Map<string, Set<(message: string) => void>>();
  subscriber.on('message', (channel: string, message: string) => {
    for (const handler of handlers.get(channel) ?? []) handler(message);
  });

  const key = (name: string): string => `${prefix}${name}`;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  await Promise.race([
    // Only 'ready' ends the wait: errors before it are retried by ioredis (events.once would reject on them).
    Promise.all([client, subscriber].map((redis) => new Promise((resolve) => redis.once('ready', resolve)))),
    new Promise((resolve) => setTimeout(resolve, connectTimeoutMs).unref()),
  ]);

  // A hung Redis (process stopped, connection open) answers nothing while ioredis still says
  // `ready`, so every command would wait for its timeout. The first command or ping that times out
  // marks the store unresponsive: from then on commands fail at once (callers fall back or fail
  // closed without waiting) until a ping, tried every `recheckMs`, is answered again.
  const recheckMs = options.recheckMs ?? 500;
  let unresponsive = false;
  let recheck: NodeJS.Timeout | undefined;
  let probing = false;
  const recover = (): void => {
    unresponsive = false;
    clearInterval(recheck);
    recheck = undefined;
  };
  const markUnresponsive = (): void => {
    if (unresponsive || client.status !== 'ready') return;
    unresponsive = true;
    recheck = setInterval(() => {
      if (probing) return;
      probing = true;
      void ping(recheckMs).finally(() => {
        probing = false;
      });
    }, recheckMs);
    recheck.unref();
  };
  const ping = async (deadlineMs: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      client.ping().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(1, deadlineMs));
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    if (answered) recover();
    else markUnresponsive();
    return answered;
  };
  const run = async <T>(command: () => Promise<T>): Promise<T> => {
    if (unresponsive) throw new Error('Redis is not answering');
    try {
      return await command();
    } catch (error) {
      if (error instanceof Error && /timed out/i.test(error.message)) markUnresponsive();
      throw error;
    }
  };

  return {
    kind: 'redis',
    get: (name) => run(async () => (await client.get(key(name))) ?? undefined),
    async set(name, value, ttlMs) {
      await run(() => client.set(key(name), value, 'PX', Math.max(1, Math.ceil(ttlMs))));
    },
    setIfAbsent: (name, value, ttlMs) =>
      run(async () => (await client.set(key(name), value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK'),
    setIfPresent: (name, value, ttlMs) =>
      run(async () => (await client.set(key(name), value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'XX')) === 'OK'),
    async delete(name) {
      await run(() => client.del(key(name)));
    },
    async increment(name, windowMs): Promise<CounterResult> {
      // A counter without a limit of its own: the caller compares the count.
      const [, count, resetMs] = await run(() =>
        client.guardAdmit(1, key(name), 'c', Math.max(1, Math.ceil(windowMs)), Number.MAX_SAFE_INTEGER, 0),
      );
      return { count: Number(count), resetMs: Number(resetMs) };
    },
    async take(name, spec): Promise<BucketResult> {
      const [allowed, remaining, retryAfterMs] = await run(() =>
        client.guardAdmit(1, key(name), 'b', spec.capacity, spec.refillPerMs, spec.cost ?? 1),
      );
      return { allowed: Number(allowed) === 1, remaining: Number(remaining), retryAfterMs: Number(retryAfterMs) };
    },
    async admit(ops: readonly AdmitOp[]): Promise<AdmitResult[]> {
      if (ops.length === 0) return [];
      const keys = ops.map((op) => key(op.key));
      const args = ops.flatMap((op) =>
        op.kind === 'counter'
          ? ['c', Math.max(1, Math.ceil(op.windowMs)), op.limit, 0]
          : ['b', op.spec.capacity, op.spec.refillPerMs, op.spec.cost ?? 1],
      );
      const flat = await run(() => client.guardAdmit(ops.length, ...keys, ...args));
      const results: AdmitResult[] = [];
      for (let i = 0; i * 3 < flat.length && i < ops.length; i += 1) {
        const allowed = Number(flat[i * 3]) === 1;
        const x = Number(flat[i * 3 + 1]);
        const y = Number(flat[i * 3 + 2]);
        results.push(
          ops[i]!.kind === 'counter'
            ? { kind: 'counter', allowed, count: x, resetMs: y }
            : { kind: 'bucket', allowed, remaining: x, retryAfterMs: allowed ? 0 : y },
        );
      }
      return results;
    },
    async publish(channel, message) {
      await run(() => client.publish(key(channel), message));
    },
    async subscribe(channel, handler) {
      const name = key(channel);
      let set = handlers.get(name);
      if (!set) {
        handlers.set(name, (set = new Set()));
        // Queued until the subscriber is connected (and re-sent by ioredis after a reconnect):
        // never wait for it, or a Redis that is down at start-up would hang the start.
        subscriber.subscribe(name).catch(() => undefined);
      }
      set.add(handler);
      return () => {
        set.delete(handler);
        if (set.size === 0) {
          handlers.delete(name);
          void subscriber.unsubscribe(name).catch(() => undefined);
        }
      };
    },
    healthy: () => client.status === 'ready' && !unresponsive,
    ping,
    async shutdown() {
      recover();
      handlers.clear();
      // The subscriber would queue QUIT until Redis answers: just drop its connection.
      subscriber.disconnect();
      if (client.status === 'ready') await client.quit().catch(() => undefined);
      client.disconnect();
    },
  };
}
