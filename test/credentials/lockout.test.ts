import { join } from 'node:path';
import { createLockout, lockoutAddress } from '../../src/credentials/lockout.js';
import type { StateStore } from '../../src/stores/types.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { startTestServer, tempDir, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { auditEvents, createStoreKey, eventually, initialize, JWT_SECRET, tokenRequest } from './helpers.js';

describe('the lockout', () => {
  it('engages after the configured failures in the window and lifts after the lockout period', async () => {
    let t = 1_000_000;
    const store = createMemoryStore({ now: () => t });
    const lockout = createLockout({ store, maxAttempts: 3, windowMs: 60_000, lockoutMs: 120_000, now: () => t });
    const subjects = { ip: '203.0.113.9' };
    expect(await lockout.recordFailure(subjects)).toEqual([]);
    expect(await lockout.recordFailure(subjects)).toEqual([]);
    expect(await lockout.check(subjects)).toBeUndefined();
    expect(await lockout.recordFailure(subjects)).toEqual([{ subject: 'ip', retryAfterMs: 120_000 }]);
    t += 60_000;
    expect(await lockout.check(subjects)).toEqual({ subject: 'ip', retryAfterMs: 60_000 });
    expect(await lockout.check({ ip: '203.0.113.10' })).toBeUndefined();
    t += 60_001;
    expect(await lockout.check(subjects)).toBeUndefined();
    await store.shutdown();
  });

  it('forgets failures once their window has passed', async () => {
    let t = 0;
    const store = createMemoryStore({ now: () => t });
    const lockout = createLockout({ store, maxAttempts: 2, windowMs: 10_000, lockoutMs: 10_000, now: () => t });
    await lockout.recordFailure({ keyId: 'k' });
    t += 10_001;
    expect(await lockout.recordFailure({ keyId: 'k' })).toEqual([]);
    await store.shutdown();
  });

  it('locks a guessed key id for the guessing address only, never for the genuine holder elsewhere', async () => {
    const store = createMemoryStore();
    const lockout = createLockout({ store, maxAttempts: 2 });
    await lockout.recordFailure({ ip: '198.51.100.1', keyId: 'abc' });
    expect(await lockout.recordFailure({ ip: '198.51.100.1', keyId: 'abc' })).toEqual([
      { subject: 'ip', retryAfterMs: 30 * 60_000 },
      { subject: 'key', retryAfterMs: 30 * 60_000 },
    ]);
    expect(await lockout.check({ ip: '198.51.100.1', keyId: 'abc' })).toMatchObject({ subject: 'ip' });
    // Failures from many addresses against one key id lock none of them out of it, nor the holder.
    for (let i = 2; i < 10; i += 1) await lockout.recordFailure({ ip: `198.51.100.${i}`, keyId: 'abc' });
    expect(await lockout.check({ ip: '203.0.113.9', keyId: 'abc' })).toBeUndefined();
    await store.shutdown();
  });

  it('counts the addresses of one IPv6 /64 as one subject', async () => {
    expect(lockoutAddress('2001:db8:0:1::5')).toBe('2001:db8:0:1::/64');
    expect(lockoutAddress('2001:0DB8:0000:0001:ffff:1:2:3')).toBe('2001:db8:0:1::/64');
    expect(lockoutAddress('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(lockoutAddress('192.0.2.7')).toBe('192.0.2.7');
    expect(lockoutAddress('::1')).toBe('0:0:0:0::/64');
    const store = createMemoryStore();
    const lockout = createLockout({ store, maxAttempts: 3 });
    for (let i = 1; i <= 3; i += 1) await lockout.recordFailure({ ip: `2001:db8:0:1::${i}` });
    expect(await lockout.check({ ip: '2001:db8:0:1:abcd::99' })).toMatchObject({ subject: 'ip' });
    expect(await lockout.check({ ip: '2001:db8:0:2::1' })).toBeUndefined();
    await store.shutdown();
  });

  it('keeps a lock when a flood of failures from distinct addresses fills its store', async () => {
    const store = createMemoryStore({ maxEntries: 1000 });
    const lockout = createLockout({ store, maxAttempts: 2 });
    await lockout.recordFailure({ ip: '192.0.2.1' });
    await lockout.recordFailure({ ip: '192.0.2.1' });
    for (let i = 0; i < 5000; i += 1) await lockout.recordFailure({ ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` });
    expect(await store.get('lockout:lock:ip:192.0.2.1')).toBeUndefined(); // the store did evict it...
    expect(await lockout.check({ ip: '192.0.2.1' })).toMatchObject({ subject: 'ip' }); // ...the lockout did not forget it
    await store.shutdown();
  });
});

describe('the lockout while its shared store is down', () => {
  function switchable(): StateStore & { up: boolean } {
    const inner = createMemoryStore();
    const state = { up: true };
    const guard =
      <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        if (!state.up) throw new Error('connection refused');
        return fn(...args);
      };
    return Object.assign(state, {
      ...inner,
      kind: 'redis',
      get: guard(inner.get),
      set: guard(inner.set),
      setIfAbsent: guard(inner.setIfAbsent),
      setIfPresent: guard(inner.setIfPresent),
      delete: guard(inner.delete),
      increment: guard(inner.increment),
      take: guard(inner.take),
      healthy: () => state.up,
      ping: async () => state.up,
    });
  }

  it('keeps enforcing locks engaged before and during the outage, and shares the new ones once it is back', async () => {
    const shared = switchable();
    const replica = createLockout({ store: shared, fallback: createMemoryStore(), maxAttempts: 2 });
    const other = createLockout({ store: shared, fallback: createMemoryStore(), maxAttempts: 2 });
    await replica.recordFailure({ ip: '192.0.2.1' });
    await replica.recordFailure({ ip: '192.0.2.1' });

    shared.up = false;
    // Never refused for the outage itself: failures count locally, like the rate limits.
    expect(await replica.check({ ip: '192.0.2.50' })).toBeUndefined();
    expect(await replica.check({ ip: '192.0.2.1' })).toMatchObject({ subject: 'ip' }); // set before the outage
    await replica.recordFailure({ ip: '192.0.2.2' });
    expect(await replica.recordFailure({ ip: '192.0.2.2' })).toEqual([{ subject: 'ip', retryAfterMs: 30 * 60_000 }]);
    expect(await replica.check({ ip: '192.0.2.2' })).toMatchObject({ subject: 'ip' }); // set during it

    shared.up = true;
    expect(await replica.check({ ip: '192.0.2.1' })).toMatchObject({ subject: 'ip' });
    // The lock engaged during the outage reached the shared store: another replica enforces it.
    expect(await other.check({ ip: '192.0.2.2' })).toMatchObject({ subject: 'ip' });
    await shared.shutdown();
  });

  it('refuses (throws) rather than guess when it has no fallback', async () => {
    const shared = switchable();
    const lockout = createLockout({ store: shared, maxAttempts: 2 });
    shared.up = false;
    await expect(lockout.check({ ip: '192.0.2.1' })).rejects.toThrow();
    await shared.shutdown();
  });
});

describe('a server with a lockout', () => {
  let server: TestServer;
  let dir: ReturnType<typeof tempDir>;
  let key: { key: string; id: string };
  beforeAll(async () => {
    dir = tempDir();
    const path = join(dir.dir, 'keys.json');
    key = await createStoreKey(path);
    server = await startTestServer({
      MCP_KEY_STORE: path,
      MCP_JWT_SECRET: JWT_SECRET,
      MCP_LOCKOUT_ATTEMPTS: '3',
      MCP_LOCKOUT_WINDOW: '1m',
      MCP_LOCKOUT_DURATION: '1s',
    });
  });
  afterAll(async () => {
    await server.stop();
    dir.remove();
  });

  it('lets successful requests through unhindered, refuses with 429 and Retry-After once locked, and lifts the lock', async () => {
    for (let i = 0; i < 5; i += 1) expect((await initialize(server.mcpUrl, { Authorization: `Bearer ${TEST_TOKEN}` })).status).toBe(200);
    for (let i = 0; i < 3; i += 1)
      expect((await initialize(server.mcpUrl, { Authorization: 'Bearer wrong-token-0123456789abcdef' })).status).toBe(401);
    const locked = await initialize(server.mcpUrl, { Authorization: `Bearer ${TEST_TOKEN}` });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await locked.json()) as { error: { data: { code: string } } }).error.data.code).toBe('locked_out');
    const tokenLocked = await tokenRequest(server.url, { grant_type: 'client_credentials', client_secret: key.key });
    expect(tokenLocked.status).toBe(429);
    expect(tokenLocked.headers.get('retry-after')).not.toBeNull();
    const events = auditEvents(server.auditDir);
    expect(events.filter((event) => event.type === 'auth.lockout')).toHaveLength(1);
    // The lock lasts 1 s: wait for it to lift rather than sleeping a guess.
    expect(
      await eventually(async () => (await initialize(server.mcpUrl, { Authorization: `Bearer ${TEST_TOKEN}` })).status === 200, 5_000),
    ).toBe(true);
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })).text();
    expect(metrics).toMatch(/mcp_guard_lockouts_total\{subject="ip"\} 1/);
    expect(metrics).toMatch(/mcp_guard_credential_events_total\{event="token.issued",outcome="locked_out"\} 1/);
  });
});

describe('a server behind a trusted proxy with a lockout', () => {
  let server: TestServer;
  let dir: ReturnType<typeof tempDir>;
  let key: { key: string; id: string };
  beforeAll(async () => {
    dir = tempDir();
    const path = join(dir.dir, 'keys.json');
    key = await createStoreKey(path);
    server = await startTestServer({
      MCP_KEY_STORE: path,
      MCP_TRUST_PROXY: 'loopback',
      MCP_LOCKOUT_ATTEMPTS: '3',
      MCP_RATE_LIMIT_MAX_KEYS: '1000',
      MCP_RATE_LIMIT: '100000',
    });
  });
  afterAll(async () => {
    await server.stop();
    dir.remove();
  });
  const from = (ip: string, headers: Record<string, string>) => initialize(server.mcpUrl, { 'X-Forwarded-For': ip, ...headers });

  it('locks out the guesser of a key id, not the genuine holder at another address', async () => {
    const guess = `${key.key.slice(0, -43)}${'A'.repeat(43)}`;
    for (let i = 0; i < 3; i += 1) expect((await from('198.51.100.7', { 'X-API-Key': guess })).status).toBe(401);
    expect((await from('198.51.100.7', { 'X-API-Key': key.key })).status).toBe(429);
    expect((await from('203.0.113.9', { 'X-API-Key': key.key })).status).toBe(200);
  });

  it('keeps a lock through a flood of requests from distinct addresses', async () => {
    for (let i = 0; i < 3; i += 1)
      expect((await from('198.51.100.8', { Authorization: 'Bearer wrong-0123456789abcdef' })).status).toBe(401);
    // 1,200 distinct client addresses: more than the 1,000 rate-limit counters kept in memory.
    for (let i = 0; i < 1200; i += 1) {
      const response = await from(`10.1.${i >> 8}.${i & 255}`, {});
      expect(response.status).toBe(401);
    }
    expect((await from('198.51.100.8', { Authorization: `Bearer ${TEST_TOKEN}` })).status).toBe(429);
  }, 60_000);
});
