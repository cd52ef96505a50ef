import { createMemoryStore } from '../../src/stores/memory.js';
import { createRedisStore } from '../../src/stores/redis.js';
import type { StateStore } from '../../src/stores/types.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const waitFor = async (predicate: () => boolean, timeoutMs = 2000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

// The same contract, run against both implementations.
describe.each([
  ['memory', async () => createMemoryStore()],
  ['redis', async () => createRedisStore({ url: REDIS_URL, prefix: uniquePrefix('store') })],
])('the %s state store', (_kind, create: () => Promise<StateStore>) => {
  let store: StateStore;
  beforeEach(async () => {
    store = await create();
  });
  afterEach(async () => {
    await store.shutdown();
  });

  it('returns what was set and forgets deleted keys', async () => {
    await store.set('a', 'one', 10_000);
    expect(await store.get('a')).toBe('one');
    await store.delete('a');
    expect(await store.get('a')).toBeUndefined();
  });

  it('lets only the first setIfAbsent win', async () => {
    const results = await Promise.all([store.setIfAbsent('k', '1', 10_000), store.setIfAbsent('k', '2', 10_000)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(['1', '2']).toContain(await store.get('k'));
  });

  it('sets a key with setIfPresent only while it exists, never re-creating a deleted one', async () => {
    expect(await store.setIfPresent('family', 'x', 10_000)).toBe(false);
    expect(await store.get('family')).toBeUndefined();
    await store.set('family', 'one', 10_000);
    expect(await store.setIfPresent('family', 'two', 10_000)).toBe(true);
    expect(await store.get('family')).toBe('two');
    await store.delete('family');
    expect(await store.setIfPresent('family', 'three', 10_000)).toBe(false);
    expect(await store.get('family')).toBeUndefined();
  });

  it('answers a ping within its deadline', async () => {
    await waitFor(() => store.healthy());
    expect(await store.ping(1000)).toBe(true);
  });

  it('counts hits in a window and reports when it resets', async () => {
    const first = await store.increment('c', 60_000);
    const second = await store.increment('c', 60_000);
    expect(first.count).toBe(1);
    expect(second.count).toBe(2);
    expect(second.resetMs).toBeGreaterThan(50_000);
    expect(second.resetMs).toBeLessThanOrEqual(60_000);
  });

  it('lets a token bucket admit its burst, then refuses with a retry delay', async () => {
    const spec = { capacity: 3, refillPerMs: 1 / 60_000 };
    const results = [];
    for (let i = 0; i < 4; i += 1) results.push(await store.take('bucket', spec));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results[2]!.remaining).toBe(0);
    expect(results[3]!.retryAfterMs).toBeGreaterThan(50_000);
    expect(results[3]!.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it("admits a request's counters and buckets together, in order, with the results of each", async () => {
    const ops = [
      { kind: 'counter' as const, key: 'ip', windowMs: 60_000, limit: 5 },
      { kind: 'bucket' as const, key: 'global', spec: { capacity: 10, refillPerMs: 1 / 60_000 } },
      { kind: 'bucket' as const, key: 'principal', spec: { capacity: 3, refillPerMs: 1 / 60_000 } },
    ];
    const [ip, global, principal] = await store.admit!(ops);
    expect(ip).toMatchObject({ kind: 'counter', allowed: true, count: 1 });
    expect(ip?.kind === 'counter' && ip.resetMs).toBeGreaterThan(50_000);
    expect(global).toEqual({ kind: 'bucket', allowed: true, remaining: 9, retryAfterMs: 0 });
    expect(principal).toEqual({ kind: 'bucket', allowed: true, remaining: 2, retryAfterMs: 0 });
    // The same keys as the single operations: they count together.
    expect((await store.increment('ip', 60_000)).count).toBe(2);
    expect((await store.take('principal', { capacity: 3, refillPerMs: 1 / 60_000 })).remaining).toBe(1);
  });

  it('stops admitting at the first refusal: the limits after it spend nothing', async () => {
    const principal = { kind: 'bucket' as const, key: 'p', spec: { capacity: 1, refillPerMs: 1 / 60_000 } };
    const tool = { kind: 'bucket' as const, key: 't', spec: { capacity: 5, refillPerMs: 1 / 60_000 } };
    expect((await store.admit!([principal, tool])).map((r) => r.allowed)).toEqual([true, true]);
    const refused = await store.admit!([principal, tool]);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ kind: 'bucket', allowed: false, remaining: 0 });
    expect(refused[0]?.kind === 'bucket' && refused[0].retryAfterMs).toBeGreaterThan(50_000);
    expect((await store.take('t', tool.spec)).remaining).toBe(3); // one token spent, not two
    const counter = { kind: 'counter' as const, key: 'c', windowMs: 60_000, limit: 1 };
    expect((await store.admit!([counter, tool])).map((r) => r.allowed)).toEqual([true, true]);
    const over = await store.admit!([counter, tool]);
    expect(over).toEqual([expect.objectContaining({ kind: 'counter', allowed: false, count: 2 })]);
    expect((await store.take('t', tool.spec)).remaining).toBe(1);
  });

  it('delivers published messages to subscribers until they unsubscribe', async () => {
    const seen: string[] = [];
    // A witness that stays subscribed: once it has the second message, the other would have it too.
    const witnessed: string[] = [];
    const unsubscribe = await store.subscribe('news', (message) => seen.push(message));
    const unsubscribeWitness = await store.subscribe('news', (message) => witnessed.push(message));
    await store.publish('news', 'first');
    await waitFor(() => seen.length === 1 && witnessed.length === 1);
    unsubscribe();
    await store.publish('news', 'second');
    await waitFor(() => witnessed.length === 2);
    unsubscribeWitness();
    expect(seen).toEqual(['first']);
  });

  it('reports itself healthy once connected', async () => {
    await waitFor(() => store.healthy());
    expect(store.healthy()).toBe(true);
  });
});

describe('the memory state store', () => {
  it('expires entries by its clock', async () => {
    let now = 1_000;
    const store = createMemoryStore({ now: () => now });
    await store.set('a', 'x', 100);
    now += 99;
    expect(await store.get('a')).toBe('x');
    now += 1;
    expect(await store.get('a')).toBeUndefined();
    await store.shutdown();
  });

  it('refills a token bucket with time', async () => {
    let now = 0;
    const store = createMemoryStore({ now: () => now });
    const spec = { capacity: 2, refillPerMs: 1 / 1000 };
    await store.take('b', spec);
    await store.take('b', spec);
    expect((await store.take('b', spec)).allowed).toBe(false);
    now += 1000;
    expect((await store.take('b', spec)).allowed).toBe(true);
    expect((await store.take('b', spec)).allowed).toBe(false);
    await store.shutdown();
  });

  it('stays within maxEntries under a flood of distinct keys, evicting the oldest', async () => {
    const store = createMemoryStore({ maxEntries: 100 });
    for (let i = 0; i < 1000; i += 1) await store.increment(`ip:${i}`, 60_000);
    expect(await store.get('ip:0')).toBeUndefined();
    expect(await store.get('ip:999')).toBe('1');
    await store.shutdown();
  });
});

describe('two redis stores with the same prefix', () => {
  it('share state and broadcasts, as two replicas do', async () => {
    const prefix = uniquePrefix('replicas');
    const a = await createRedisStore({ url: REDIS_URL, prefix });
    const b = await createRedisStore({ url: REDIS_URL, prefix });
    const seen: string[] = [];
    await b.subscribe('revoked', (message) => seen.push(message));
    await a.set('token', 'alive', 10_000);
    expect(await b.get('token')).toBe('alive');
    await a.publish('revoked', 'key:1');
    await waitFor(() => seen.length === 1);
    expect(seen).toEqual(['key:1']);
    await Promise.all([a.shutdown(), b.shutdown()]);
  });
});
