import { createMemoryStore } from '../../src/stores/memory.js';
import { createResilientStore } from '../../src/stores/resilient.js';
import type { StateStore } from '../../src/stores/types.js';

describe('the token bucket', () => {
  let clock = 1_000_000;
  const store = createMemoryStore({ now: () => clock });
  const spec = { capacity: 3, refillPerMs: 1 / 1000 }; // 3 at once, one more per second
  afterAll(() => store.shutdown());

  it('lets a burst of its capacity through at once and refuses the next', async () => {
    const results = [];
    for (let i = 0; i < 4; i += 1) results.push(await store.take('burst', spec));
    expect(results.map((result) => result.allowed)).toEqual([true, true, true, false]);
    expect(results[3]!.retryAfterMs).toBe(1000);
    expect(results[2]!.remaining).toBe(0);
  });

  it('refills at its rate, never beyond its capacity', async () => {
    for (let i = 0; i < 3; i += 1) await store.take('refill', spec);
    clock += 1_500;
    expect((await store.take('refill', spec)).allowed).toBe(true);
    expect((await store.take('refill', spec)).allowed).toBe(false);
    clock += 60_000;
    const after = [];
    for (let i = 0; i < 4; i += 1) after.push((await store.take('refill', spec)).allowed);
    expect(after).toEqual([true, true, true, false]);
  });

  it('keeps buckets of different keys apart', async () => {
    for (let i = 0; i < 3; i += 1) await store.take('a', spec);
    expect((await store.take('a', spec)).allowed).toBe(false);
    expect((await store.take('b', spec)).allowed).toBe(true);
  });
});

describe('the in-memory counters under a flood of distinct clients', () => {
  it('keep at most their bound of keys, dropping the oldest', async () => {
    const store = createMemoryStore({ maxEntries: 1_000 });
    for (let i = 0; i < 5_000; i += 1) await store.increment(`ip:${i}`, 60_000);
    expect(await store.get('ip:0')).toBeUndefined();
    expect(await store.get('ip:4999')).toBe('1');
    await store.shutdown();
  });
});

describe('the resilient store', () => {
  function failingPrimary(): StateStore & { up: boolean } {
    const inner = createMemoryStore();
    const state = { up: true };
    const guard =
      <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        if (!state.up) throw new Error('connection refused');
        return fn(...args);
      };
    return Object.assign(state, {
      kind: 'redis',
      get: guard(inner.get),
      set: guard(inner.set),
      setIfAbsent: guard(inner.setIfAbsent),
      setIfPresent: guard(inner.setIfPresent),
      delete: guard(inner.delete),
      increment: guard(inner.increment),
      take: guard(inner.take),
      publish: guard(inner.publish),
      subscribe: guard(inner.subscribe),
      healthy: () => state.up,
      ping: async () => state.up,
      shutdown: inner.shutdown,
    });
  }

  it('counts locally while the primary is down and returns to it when it is back', async () => {
    const primary = failingPrimary();
    const changes: boolean[] = [];
    const store = createResilientStore({ primary, fallback: createMemoryStore(), onDegradedChange: (degraded) => changes.push(degraded) });
    expect((await store.increment('k', 60_000)).count).toBe(1);
    primary.up = false;
    expect((await store.increment('k', 60_000)).count).toBe(1); // a fresh local counter
    expect(store.degraded()).toBe(true);
    primary.up = true;
    expect((await store.increment('k', 60_000)).count).toBe(2); // the shared counter again
    expect(store.degraded()).toBe(false);
    expect(changes).toEqual([true, false]);
    await store.shutdown();
    await primary.shutdown();
  });

  it("admits a request's counters together on the primary, and all of them locally while it is down", async () => {
    const primary = failingPrimary();
    const store = createResilientStore({ primary, fallback: createMemoryStore() });
    const ops = [
      { kind: 'counter' as const, key: 'ip', windowMs: 60_000, limit: 10 },
      { kind: 'bucket' as const, key: 'b', spec: { capacity: 5, refillPerMs: 1 / 60_000 } },
    ];
    expect((await store.admit(ops)).map((r) => r.allowed)).toEqual([true, true]);
    expect((await primary.increment('ip', 60_000)).count).toBe(2); // counted on the primary
    primary.up = false;
    const local = await store.admit(ops);
    expect(local[0]).toMatchObject({ kind: 'counter', count: 1 }); // a fresh local counter
    expect(local[1]).toMatchObject({ kind: 'bucket', remaining: 4 });
    expect(store.degraded()).toBe(true);
    primary.up = true;
    expect((await store.admit(ops))[0]).toMatchObject({ kind: 'counter', count: 3 });
    await store.shutdown();
    await primary.shutdown();
  });

  it('fails closed for everything but counters while the primary is down', async () => {
    const primary = failingPrimary();
    const store = createResilientStore({ primary, fallback: createMemoryStore() });
    primary.up = false;
    await expect(store.get('revoked:key')).rejects.toThrow();
    await expect(store.setIfAbsent('session', 'x', 1000)).rejects.toThrow();
    expect((await store.take('bucket', { capacity: 1, refillPerMs: 1 })).allowed).toBe(true);
    await store.shutdown();
    await primary.shutdown();
  });
});
