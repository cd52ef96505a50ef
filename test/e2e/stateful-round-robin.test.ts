import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { connectClient, connectModernClient, startTestServer, type TestServer } from '../helpers/server.js';

/** A load balancer without sticky sessions: each request goes to the next replica. */
async function roundRobin(targets: string[]): Promise<{ url: string; close(): Promise<void> }> {
  let turn = 0;
  const proxy: Server = createServer((req, res) => {
    const target = new URL(targets[turn++ % targets.length]!);
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    close: () => new Promise((done) => (proxy.closeAllConnections(), proxy.close(() => done()))),
  };
}

describe('stateful mode behind a balancer without sticky sessions', () => {
  const replicas: TestServer[] = [];
  let balancer: Awaited<ReturnType<typeof roundRobin>>;
  beforeAll(async () => {
    const prefix = uniquePrefix('stateful-rr');
    for (let i = 0; i < 2; i += 1)
      replicas.push(await startTestServer({ REDIS_URL, MCP_REDIS_PREFIX: prefix, MCP_SESSION_MODE: 'stateful' }));
    balancer = await roundRobin(replicas.map((replica) => replica.url));
  }, 30_000);
  afterAll(async () => {
    await balancer.close();
    await Promise.all(replicas.map((replica) => replica.stop()));
  });

  it('fails a 2025 client at its second request, and its session stays on one replica until it is idle', async () => {
    await expect(connectClient(`${balancer.url}/mcp`)).rejects.toThrow();
    const sessions = replicas.map((replica) => replica.running.guard.endpoint.sessionCount());
    expect(sessions.reduce((sum, count) => sum + count, 0)).toBe(1);
  });

  it('serves a 2026-07-28 client anyway: it has no session to lose', async () => {
    const { client, close } = await connectModernClient(`${balancer.url}/mcp`);
    const results = await Promise.all([1, 2, 3].map((n) => client.callTool({ name: 'echo', arguments: { message: `rr${n}` } })));
    expect(results.map((result) => result.content)).toEqual([1, 2, 3].map((n) => [{ type: 'text', text: `rr${n}` }]));
    await close();
  });
});
