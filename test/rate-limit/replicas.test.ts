import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { startProcess, type ServerProcess } from '../helpers/process.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import {
  INITIALIZE,
  MCP_POST_HEADERS,
  TEST_TOKEN,
  connectClient,
  connectModernClient,
  openSessionToken,
  tempDir,
} from '../helpers/server.js';

const key = (name: string) => `${name}-replica-secret-0123456789abcdef0123456789`;
const call = (name: string, args: Record<string, unknown>) =>
  JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });

/** A round-robin HTTP proxy in front of the replicas, like a load balancer without sticky sessions. */
function roundRobin(targets: string[]): Promise<{ url: string; close(): Promise<void> }> {
  let next = 0;
  const server: Server = createServer((req, res) => {
    const target = new URL(req.url ?? '/', targets[next++ % targets.length]);
    const upstream = request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise((done) => (server.closeAllConnections(), server.close(() => done()))),
      }),
    ),
  );
}

describe('three replicas sharing Redis', () => {
  const files = tempDir();
  const replicas: ServerProcess[] = [];
  let turn = 0;
  /** Sends one request to the next replica in turn and returns the status. */
  const send = async (body: string, headers: Record<string, string>) => {
    const replica = replicas[turn++ % replicas.length]!;
    const response = await fetch(replica.mcpUrl, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...headers }, body });
    await response.text();
    return response.status;
  };
  const allowed = (statuses: number[]) => statuses.filter((status) => status === 200).length;
  let ipCounter = 1;
  /** A fresh client address per request (through the trusted loopback proxy), so per-IP limits stay out of the way. */
  const freshIp = () => ({ 'X-Forwarded-For': `198.51.100.${ipCounter++ % 250}` });

  beforeAll(async () => {
    const limits = join(files.dir, 'limits.json');
    writeFileSync(limits, JSON.stringify({ tools: { kv_set: { perMinute: 1, burst: 10 } } }));
    const env = {
      MCP_AUTH_TOKEN: TEST_TOKEN,
      MCP_API_KEYS: ['ipkey', 'pkey', 'toolkey'].map((name) => `${name}:operator:${key(name)}`).join(','),
      MCP_SESSION_TOKENS: 'true',
      REDIS_URL,
      MCP_REDIS_PREFIX: uniquePrefix('replicas'),
      MCP_SESSION_MODE: 'stateless',
      MCP_JSON_RESPONSE: 'true',
      MCP_TRUST_PROXY: 'loopback',
      MCP_RATE_LIMIT: '30',
      MCP_RATE_LIMIT_PRINCIPAL: '1',
      MCP_RATE_LIMIT_PRINCIPAL_BURST: '40',
      MCP_RATE_LIMIT_TOOL: '0',
      MCP_RATE_LIMIT_FILE: limits,
      MCP_LOCKOUT_ATTEMPTS: '3',
    };
    for (let i = 0; i < 3; i += 1) replicas.push(await startProcess({ ...env, MCP_AUDIT_DIR: join(files.dir, `audit-${i}`) }));
  }, 30_000);
  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    files.remove();
  });

  it('hold the per-IP limit as one: exactly the limit is allowed across the three', async () => {
    const statuses = [];
    for (let i = 0; i < 45; i += 1)
      statuses.push(await send(call('echo', { message: 'ip' }), { 'X-API-Key': key('ipkey'), 'X-Forwarded-For': '203.0.113.10' }));
    expect(allowed(statuses)).toBe(30);
    expect(statuses.slice(30).every((status) => status === 429)).toBe(true);
  });

  it('hold the per-principal limit as one', async () => {
    const statuses = [];
    for (let i = 0; i < 60; i += 1) statuses.push(await send(call('echo', { message: 'p' }), { 'X-API-Key': key('pkey'), ...freshIp() }));
    expect(allowed(statuses)).toBe(40);
  });

  it('hold the per-tool limit as one', async () => {
    const statuses = [];
    for (let i = 0; i < 20; i += 1) {
      statuses.push(await send(call('kv_set', { key: `k${i}`, value: 'v' }), { 'X-API-Key': key('toolkey'), ...freshIp() }));
    }
    expect(allowed(statuses)).toBe(10);
  });

  it('accept a session token minted by one replica on the others, and serve the SDK client round-robin in stateless mode', async () => {
    const session = await openSessionToken(replicas[0]!.url);
    const { token } = session;

    for (const replica of replicas.slice(1)) {
      const response = await fetch(replica.mcpUrl, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${token}` },
        body: JSON.stringify(INITIALIZE),
      });
      await response.text();
      expect(response.status).toBe(200);
    }

    const proxy = await roundRobin(replicas.map((replica) => replica.url));
    try {
      const { client, close } = await connectClient(`${proxy.url}/mcp`, { Authorization: `Bearer ${token}` });
      const calls = await Promise.all([1, 2, 3].map((n) => client.callTool({ name: 'echo', arguments: { message: `rr${n}` } })));
      expect(calls.map((result) => result.content)).toEqual([1, 2, 3].map((n) => [{ type: 'text', text: `rr${n}` }]));
      await close();
    } finally {
      session.close();
      await proxy.close();
    }
  });

  it('serve the SDK v2 client on 2026-07-28 round-robin, with no affinity at all', async () => {
    const proxy = await roundRobin(replicas.map((replica) => replica.url));
    try {
      const { client, close } = await connectModernClient(`${proxy.url}/mcp`, { Authorization: `Bearer ${TEST_TOKEN}`, ...freshIp() });
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      const calls = await Promise.all([1, 2, 3, 4].map((n) => client.callTool({ name: 'echo', arguments: { message: `modern${n}` } })));
      expect(calls.map((result) => result.content)).toEqual([1, 2, 3, 4].map((n) => [{ type: 'text', text: `modern${n}` }]));
      await close();
    } finally {
      await proxy.close();
    }
  });

  it('share a lockout: failures spread over the replicas lock the client out on all of them', async () => {
    const attacker = { 'X-Forwarded-For': '203.0.113.66' };
    const failures = [];
    for (let i = 0; i < 3; i += 1)
      failures.push(
        await send(call('echo', { message: 'x' }), { Authorization: 'Bearer wrong-token-0123456789abcdef0123456789', ...attacker }),
      );
    expect(failures).toEqual([401, 401, 401]);
    for (const replica of replicas) {
      const response = await fetch(replica.mcpUrl, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${TEST_TOKEN}`, ...attacker },
        body: call('echo', { message: 'x' }),
      });
      await response.text();
      expect(response.status).toBe(429);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  });
});
