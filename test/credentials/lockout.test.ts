import { join } from 'node:path';
import { createLockout } from '../../src/credentials/lockout.js';
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

  it('counts failures against a key id from any address', async () => {
    const store = createMemoryStore();
    const lockout = createLockout({ store, maxAttempts: 2 });
    await lockout.recordFailure({ ip: '198.51.100.1', keyId: 'abc' });
    expect(await lockout.recordFailure({ ip: '198.51.100.2', keyId: 'abc' })).toEqual([{ subject: 'key', retryAfterMs: 30 * 60_000 }]);
    expect(await lockout.check({ ip: '198.51.100.3', keyId: 'abc' })).toMatchObject({ subject: 'key' });
    await store.shutdown();
  });
});

describe('a server with a lockout', () => {
  let server: TestServer;
  let dir: ReturnType<typeof tempDir>;
  let key: { key: string; id: string };
  beforeAll(async () => {
    dir = tempDir();
    const path = join(dir.dir, 'keys.json');
    key = createStoreKey(path);
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
