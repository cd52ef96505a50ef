import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { MCP_POST_HEADERS, TEST_API_KEY, TEST_TOKEN, readRpc, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

function post(server: TestServer, body: unknown, auth: Record<string, string> = { Authorization: `Bearer ${TEST_TOKEN}` }) {
  return fetch(server.mcpUrl, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...auth }, body: JSON.stringify(body) });
}

// The same limits on each store: on Redis the stack counts all of a request's limits in one round trip.
const stores: Array<[string, () => Record<string, string>]> = [
  ['memory', () => ({})],
  ['Redis', () => ({ REDIS_URL, MCP_REDIS_PREFIX: uniquePrefix('levels') })],
];

describe.each(stores)('rate limits per principal, per tool and across all clients, on %s', (_store, storeEnv) => {
  // A server per test: each test spends the buckets it checks, whatever ran before it.
  const files = tempDir();
  let server: TestServer;
  beforeEach(async () => {
    const limits = join(files.dir, 'limits.json');
    writeFileSync(limits, JSON.stringify({ tools: { kv_set: { perMinute: 1, burst: 2 } } }));
    server = await startTestServer({
      ...storeEnv(),
      MCP_SESSION_MODE: 'stateless',
      MCP_API_KEYS: `second:operator:${TEST_API_KEY}`,
      MCP_RATE_LIMIT: '1000',
      MCP_RATE_LIMIT_PRINCIPAL: '1',
      MCP_RATE_LIMIT_PRINCIPAL_BURST: '6',
      MCP_RATE_LIMIT_FILE: limits,
    });
  });
  afterEach(async () => {
    await server.stop();
  });
  afterAll(() => files.remove());

  it('refuses a tool beyond its own limit while other tools still work, with a JSON-RPC retryAfter', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await post(server, call(i, 'kv_set', { key: `k${i}`, value: 'v' }));
      statuses.push(response.status);
      if (i < 2) await response.text();
      else {
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(response.headers.get('ratelimit-limit')).toBe('2');
        const [message] = await readRpc<{ id: number; error: { data: { code: string; retryAfter: number } } }>(response);
        expect(message).toMatchObject({ id: 2, error: { data: { code: 'rate_limited', retryAfter: expect.any(Number) } } });
      }
    }
    expect(statuses).toEqual([200, 200, 429]);
    const echo = await post(server, call(9, 'echo', { message: 'still here' }));
    expect(echo.status).toBe(200);
    await echo.text();
  });

  it('refuses a principal beyond its burst, and only that principal', async () => {
    let refused: Response | undefined;
    // A burst of 6: the seventh request is refused.
    for (let i = 0; i < 7 && !refused; i += 1) {
      const response = await post(server, call(20 + i, 'echo', { message: 'x' }));
      if (response.status === 429) refused = response;
      else await response.text();
    }
    expect(refused).toBeDefined();
    await refused!.text();
    const other = await post(server, call(40, 'echo', { message: 'y' }), { 'X-API-Key': TEST_API_KEY });
    expect(other.status).toBe(200);
    await other.text();
  });

  it('records each refusal as an audit event with its scope and a labelled metric', async () => {
    // Over the tool's burst of 2, then over the principal's burst of 6.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await post(server, call(60 + i, 'kv_set', { key: `k${i}`, value: 'v' }));
      statuses.push(response.status);
      await response.text();
    }
    let principalRefused = false;
    for (let i = 0; i < 6 && !principalRefused; i += 1) {
      const response = await post(server, call(70 + i, 'echo', { message: 'x' }));
      principalRefused = response.status === 429;
      await response.text();
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(principalRefused).toBe(true);
    const events = readFileSync(join(server.auditDir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; details?: { scope?: string; tool?: string } });
    const hits = events.filter((event) => event.type === 'ratelimit.hit');
    expect(hits.map((event) => event.details)).toEqual(
      expect.arrayContaining([{ scope: 'tool', tool: 'kv_set' }, expect.objectContaining({ scope: 'principal' })]),
    );
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })).text();
    expect(metrics).toMatch(/mcp_guard_rate_limit_hits_total\{scope="tool",tool="kv_set"\} 1/);
  });
});

describe.each(stores)('the global cap, on %s', (_store, storeEnv) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ ...storeEnv(), MCP_RATE_LIMIT: '1000', MCP_RATE_LIMIT_GLOBAL: '1', MCP_RATE_LIMIT_GLOBAL_BURST: '3' });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('refuses every client once all of them together used it up, before authentication', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await fetch(`${server.url}/mcp`, { method: 'POST', headers: MCP_POST_HEADERS, body: '{}' });
      statuses.push(response.status);
      await response.text();
    }
    expect(statuses).toEqual([401, 401, 401]);
    const response = await post(server, call(1, 'echo', { message: 'late' }));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBeTruthy();
    await response.text();
  });
});

describe.each(stores)('requests refused on their way, on %s', (_store, storeEnv) => {
  let server: TestServer;
  beforeEach(async () => {
    server = await startTestServer({
      ...storeEnv(),
      MCP_SESSION_MODE: 'stateless',
      MCP_RATE_LIMIT: '3',
      MCP_RATE_LIMIT_PRINCIPAL_BURST: '2',
    });
  });
  afterEach(async () => {
    await server.stop();
  });

  it('count against the per-IP limit when authentication refuses them, so guessing stays limited', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i += 1) {
      const response = await post(server, call(i, 'echo', { message: 'x' }), { Authorization: 'Bearer wrong-token-0123456789' });
      statuses.push(response.status);
      await response.text();
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const response = await post(server, call(9, 'echo', { message: 'x' }));
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    await response.text();
  });

  it('refuse a client past its per-IP limit before its credential is looked at, once it was refused', async () => {
    const authFailures = () =>
      readFileSync(join(server.auditDir, 'audit.jsonl'), 'utf8')
        .split('\n')
        .filter((line) => line.includes('"auth.failure"')).length;
    const wrong = { Authorization: 'Bearer wrong-token-0123456789' };
    for (let i = 0; i < 4; i += 1) await (await post(server, call(i, 'echo', { message: 'x' }), wrong)).text();
    const before = authFailures();
    const statuses = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await post(server, call(10 + i, 'echo', { message: 'x' }), wrong);
      statuses.push(response.status);
      await response.text();
    }
    expect(statuses).toEqual([429, 429, 429]);
    expect(authFailures()).toBe(before);
  });

  it('count against the per-principal limit when their body is refused', async () => {
    const statuses = [];
    for (let i = 0; i < 2; i += 1) {
      const response = await fetch(server.mcpUrl, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${TEST_TOKEN}` },
        body: '{"jsonrpc": "2.0", broken',
      });
      statuses.push(response.status);
      await response.text();
    }
    expect(statuses).toEqual([400, 400]);
    const response = await post(server, call(9, 'echo', { message: 'x' }));
    expect(response.status).toBe(429);
    await response.text();
  });
});

describe('the rate-limit file', () => {
  it('stops start-up on a malformed limit, naming it', async () => {
    const files = tempDir();
    const limits = join(files.dir, 'limits.json');
    writeFileSync(limits, JSON.stringify({ tools: { kv_set: { perMinute: -1, burst: 2 } } }));
    await expect(startTestServer({ MCP_RATE_LIMIT_FILE: limits })).rejects.toThrow(/MCP_RATE_LIMIT_FILE: tools.kv_set.perMinute/);
    files.remove();
  });
});
