import { MCP_POST_HEADERS, TEST_TOKEN, openSessionToken, startTestServer, type TestServer } from '../helpers/server.js';
import { createRedisStore } from '../../src/stores/redis.js';
import { startOwnRedis, uniquePrefix, type OwnRedis } from '../helpers/redis.js';

const echo = (id: number) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } });

async function post(server: TestServer, id: number, headers: Record<string, string> = { Authorization: `Bearer ${TEST_TOKEN}` }) {
  const response = await fetch(server.mcpUrl, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...headers }, body: echo(id) });
  await response.text();
  return response.status;
}

async function ready(server: TestServer) {
  const response = await fetch(`${server.url}/ready`);
  return { status: response.status, body: (await response.json()) as { checks: Record<string, { status: string }> } };
}

async function until(check: () => Promise<boolean>, timeoutMs = 8_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('condition not reached');
}

describe('a Redis outage', () => {
  let redis: OwnRedis;
  let server: TestServer;
  beforeAll(async () => {
    redis = await startOwnRedis();
    server = await startTestServer({
      REDIS_URL: redis.url,
      MCP_REDIS_PREFIX: uniquePrefix('outage'),
      MCP_SESSION_MODE: 'stateless',
      MCP_RATE_LIMIT: '1000',
      MCP_RATE_LIMIT_PRINCIPAL: '1',
      MCP_RATE_LIMIT_PRINCIPAL_BURST: '5',
    });
  });
  afterAll(async () => {
    await server.stop();
    await redis.stop();
  });

  it('keeps serving with local limits that still bite, says so in /ready, and returns to Redis when it is back', async () => {
    expect(await post(server, 1)).toBe(200);
    expect((await ready(server)).body.checks.store!.status).toBe('ok');

    await redis.stop();
    const during = [];
    for (let i = 0; i < 7; i += 1) during.push(await post(server, 10 + i));
    expect(during.slice(0, 5)).toEqual([200, 200, 200, 200, 200]); // a fresh local bucket: degraded, not down
    expect(during[6]).toBe(429); // and not open either
    const degraded = await ready(server);
    expect(degraded.status).toBe(200);
    expect(degraded.body.checks.store!.status).toBe('degraded');
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })).text();
    expect(metrics).toMatch(/mcp_guard_store_degraded 1/);
    expect(metrics).toMatch(/mcp_guard_store_fallbacks_total [1-9]/);

    await redis.start();
    await until(async () => (await ready(server)).body.checks.store!.status === 'ok');
    // The shared bucket counts again (this Redis kept nothing across its restart, so it starts full).
    const after = [];
    for (let i = 0; i < 6; i += 1) after.push(await post(server, 30 + i));
    expect(after).toEqual([200, 200, 200, 200, 200, 429]);
  }, 30_000);
});

describe('credential checks during a Redis outage', () => {
  let redis: OwnRedis;
  let server: TestServer;
  beforeAll(async () => {
    redis = await startOwnRedis();
    server = await startTestServer({
      MCP_AUTH_TOKEN: '',
      MCP_SESSION_MODE: 'stateless',
      REDIS_URL: redis.url,
      MCP_REDIS_PREFIX: uniquePrefix('outage-dev'),
    });
  });
  afterAll(async () => {
    await server.stop();
    await redis.stop();
  });

  it('fail closed: a session token that cannot be checked is refused with 503, never accepted', async () => {
    const session = await openSessionToken(server.url);
    const { token } = session;
    expect(await post(server, 1, { Authorization: `Bearer ${token}` })).toBe(200);
    await redis.stop();
    expect(await post(server, 2, { Authorization: `Bearer ${token}` })).toBe(503);
    session.close();
  }, 30_000);
});

describe('a Redis that is down at start-up', () => {
  it('does not stop the server from starting: it serves with local limits and reports degraded until Redis comes', async () => {
    const redis = await startOwnRedis();
    await redis.stop();
    const server = await startTestServer({
      REDIS_URL: redis.url,
      MCP_REDIS_PREFIX: uniquePrefix('down-at-start'),
      MCP_SESSION_MODE: 'stateless',
    });
    try {
      expect(await post(server, 1)).toBe(200);
      expect((await ready(server)).body.checks.store!.status).toBe('degraded');
      await redis.start();
      await until(async () => (await ready(server)).body.checks.store!.status === 'ok');
    } finally {
      await server.stop();
      await redis.stop();
    }
  }, 30_000);
});

describe('a hung Redis (stopped with SIGSTOP, connection open)', () => {
  let redis: OwnRedis;
  let server: TestServer;
  beforeAll(async () => {
    redis = await startOwnRedis();
    server = await startTestServer({
      REDIS_URL: redis.url,
      MCP_REDIS_PREFIX: uniquePrefix('hung'),
      MCP_SESSION_MODE: 'stateless',
    });
  });
  afterAll(async () => {
    redis.resume();
    await server.stop();
    await redis.stop();
  });

  it('is reported by /ready within the probe deadline, and requests stop waiting for it', async () => {
    expect(await post(server, 1)).toBe(200);
    redis.pause();
    // The probe result is cached for a second: wait for the first probe after the pause.
    let probed = await ready(server);
    const deadline = Date.now() + 5000;
    while (probed.body.checks.store!.status === 'ok' && Date.now() < deadline) probed = await ready(server);
    expect(probed.status).toBe(200);
    expect(probed.body.checks.store!.status).toBe('degraded');
    const started = performance.now();
    const readyAgain = await ready(server);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(readyAgain.body.checks.store!.status).toBe('degraded');

    // Requests no longer wait 500 ms per Redis command: limits count locally at once.
    const timings: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const begin = performance.now();
      expect(await post(server, 10 + i)).toBe(200);
      timings.push(performance.now() - begin);
    }
    expect(Math.max(...timings)).toBeLessThan(400);

    redis.resume();
    await until(async () => (await ready(server)).body.checks.store!.status === 'ok');
    expect(await post(server, 20)).toBe(200);
  }, 30_000);
});

describe('the lockout during a Redis outage', () => {
  let redis: OwnRedis;
  let server: TestServer;
  const prefix = uniquePrefix('lockout-outage');
  beforeAll(async () => {
    redis = await startOwnRedis();
    server = await startTestServer({
      REDIS_URL: redis.url,
      MCP_REDIS_PREFIX: prefix,
      MCP_SESSION_MODE: 'stateless',
      MCP_LOCKOUT_ATTEMPTS: '3',
    });
  });
  afterAll(async () => {
    await server.stop();
    await redis.stop();
  });

  it('counts locally, locks, and keeps the lock (in Redis too) once Redis is back', async () => {
    await redis.stop();
    expect(await post(server, 1)).toBe(200); // degraded, not refused
    const wrong = { Authorization: 'Bearer wrong-token-0123456789abcdef' };
    for (let i = 0; i < 3; i += 1) expect(await post(server, 2 + i, wrong)).toBe(401);
    expect(await post(server, 5)).toBe(429);

    await redis.start();
    await until(async () => (await ready(server)).body.checks.store!.status === 'ok');
    expect(await post(server, 6)).toBe(429);
    const check = await createRedisStore({ url: redis.url, prefix });
    try {
      expect(await check.get('lockout:lock:ip:127.0.0.1')).toBeDefined();
    } finally {
      await check.shutdown();
    }
  }, 30_000);
});
