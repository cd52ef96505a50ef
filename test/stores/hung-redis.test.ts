import { createRedisStore } from '../../src/stores/redis.js';
import type { StateStore } from '../../src/stores/types.js';
import { startOwnRedis, uniquePrefix, type OwnRedis } from '../helpers/redis.js';

async function timed<T>(run: () => Promise<T>): Promise<{ result: T | Error; ms: number }> {
  const started = performance.now();
  const result = await run().catch((error: Error) => error);
  return { result, ms: performance.now() - started };
}

describe('a Redis store whose server hangs (SIGSTOP, connection open)', () => {
  let redis: OwnRedis;
  let store: StateStore;
  beforeAll(async () => {
    redis = await startOwnRedis();
    store = await createRedisStore({ url: redis.url, prefix: uniquePrefix('hung'), recheckMs: 100 });
  });
  afterAll(async () => {
    redis.resume();
    await store.shutdown();
    await redis.stop();
  });

  it('fails a ping at its deadline, then fails commands at once until Redis answers again', async () => {
    expect(await store.ping(1000)).toBe(true);
    redis.pause();
    const ping = await timed(() => store.ping(200));
    expect(ping.result).toBe(false);
    expect(ping.ms).toBeLessThan(450); // the deadline, not the 500 ms command timeout
    expect(store.healthy()).toBe(false);
    // Callers no longer wait for a timeout per command: they fall back or fail closed at once.
    const get = await timed(() => store.get('anything'));
    expect(get.result).toBeInstanceOf(Error);
    expect(get.ms).toBeLessThan(50);

    redis.resume();
    const deadline = Date.now() + 5000;
    while (!store.healthy() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(store.healthy()).toBe(true);
    expect(await store.get('anything')).toBeUndefined();
  });
});
