import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, connectModernClient, MCP_POST_HEADERS, INITIALIZE, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { EVERYTHING, startModernUpstream, startTestGateway, UPSTREAM_TOKEN, type TestGateway } from './helpers.js';

const OPERATOR_KEY = 'operator-key-0123456789abcdef0123456789abcdef';
const VIEWER_KEY = 'viewer-key-0123456789abcdef0123456789abcdef01';
const KEYS = `op:operator:${OPERATOR_KEY},view:viewer:${VIEWER_KEY}`;

/** A loopback proxy in front of an upstream that records the headers of every request it forwards. */
async function recordingProxy(target: string): Promise<{ url: string; seen: http.IncomingHttpHeaders[]; close(): void }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    seen.push({ ...req.headers });
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: upstream.pathname,
        headers: { ...req.headers, host: upstream.host },
      },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    seen,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const auditLines = (dir: string) =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as { type: string; action: string; details?: Record<string, unknown>; outcome: { status: string } });

describe('the gateway in front of a 2026-07-28 upstream and a 2025 stdio upstream', () => {
  let upstream: TestServer;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let gateway: TestGateway;
  beforeAll(async () => {
    upstream = await startModernUpstream();
    proxy = await recordingProxy(upstream.mcpUrl);
    gateway = await startTestGateway(
      {
        modern: {
          url: proxy.url,
          auth: { type: 'bearer', token: { env: 'UPSTREAM_TOKEN' } },
          policy: {
            tools: { test_simple_text: 'tools:call', test_image_content: 'kv:write' },
            prompts: { test_simple_prompt: 'prompts:get' },
            resources: { 'test://static-text': 'resources:read' },
          },
        },
        everything: {
          command: process.execPath,
          args: [EVERYTHING, 'stdio'],
          policy: { tools: { echo: 'tools:call', 'get-sum': 'kv:write' }, default: { tools: 'deny' } },
        },
      },
      { MCP_API_KEYS: KEYS },
      { UPSTREAM_TOKEN },
    );
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
    proxy?.close();
    await upstream?.stop();
  });

  it.each([
    ['modern', 'a 2026-07-28 client', 'connectModernClient'],
    ['modern', 'a 2025 client', 'connectClient'],
    ['everything', 'a 2026-07-28 client', 'connectModernClient'],
    ['everything', 'a 2025 client', 'connectClient'],
  ])('lists only what the policy lets the principal see, in the upstream’s own names (%s upstream, %s)', async (name, _label, connect) => {
    const open = connect === 'connectClient' ? connectClient : connectModernClient;
    const operator = await open(gateway.mcpUrl(name), { 'X-API-Key': OPERATOR_KEY });
    const viewer = await open(gateway.mcpUrl(name), { 'X-API-Key': VIEWER_KEY });
    try {
      const names = async (client: typeof operator.client) => (await client.listTools()).tools.map((tool) => tool.name).sort();
      const [allowed, privileged] = name === 'modern' ? ['test_simple_text', 'test_image_content'] : ['echo', 'get-sum'];
      expect(await names(operator.client)).toEqual([allowed, privileged].sort());
      expect(await names(viewer.client)).toEqual([allowed]);
    } finally {
      await operator.close();
      await viewer.close();
    }
  });

  it('forwards calls and their results, in both eras, to both upstreams', async () => {
    const modern = await connectModernClient(gateway.mcpUrl('everything'));
    const legacy = await connectClient(gateway.mcpUrl('modern'));
    try {
      expect((await modern.client.callTool({ name: 'echo', arguments: { message: 'through' } })).content).toEqual([
        { type: 'text', text: 'Echo: through' },
      ]);
      expect((await legacy.client.callTool({ name: 'test_simple_text', arguments: {} })).content).toEqual([
        { type: 'text', text: 'This is a simple text response for testing.' },
      ]);
      const prompt = await legacy.client.getPrompt({ name: 'test_simple_prompt' });
      expect(prompt.messages.length).toBeGreaterThan(0);
      const resource = await legacy.client.readResource({ uri: 'test://static-text' });
      expect(resource.contents[0]).toMatchObject({ uri: 'test://static-text' });
    } finally {
      await modern.close();
      await legacy.close();
    }
  });

  it('refuses a call the policy does not allow with 403, and one it does not name at all, before the upstream sees it', async () => {
    const call = (name: string, key: string, tool: string) =>
      fetch(gateway.mcpUrl(name), {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, 'X-API-Key': key },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: tool, arguments: {} } }),
      });
    const before = proxy.seen.length;
    const privileged = await call('modern', VIEWER_KEY, 'test_image_content');
    expect(privileged.status).toBe(403);
    expect(((await privileged.json()) as { error: { data: { code: string } } }).error.data.code).toBe('insufficient_scope');
    const unnamed = await call('modern', OPERATOR_KEY, 'test_audio_content');
    expect(unnamed.status).toBe(403);
    expect(((await unnamed.json()) as { error: { data: { code: string } } }).error.data.code).toBe('forbidden');
    expect(proxy.seen.length).toBe(before);
  });

  it('never passes the client’s credential to the upstream: the upstream sees the gateway’s own', async () => {
    const viaBearer = await connectClient(gateway.mcpUrl('modern'), { Authorization: `Bearer ${TEST_TOKEN}` });
    const viaKey = await connectModernClient(gateway.mcpUrl('modern'), { 'X-API-Key': OPERATOR_KEY });
    try {
      await viaBearer.client.callTool({ name: 'test_simple_text', arguments: {} });
      await viaKey.client.callTool({ name: 'test_simple_text', arguments: {} });
    } finally {
      await viaBearer.close();
      await viaKey.close();
    }
    expect(proxy.seen.length).toBeGreaterThan(0);
    for (const headers of proxy.seen) {
      expect(headers.authorization).toBe(`Bearer ${UPSTREAM_TOKEN}`);
      expect(headers['x-api-key']).toBeUndefined();
      expect(JSON.stringify(headers)).not.toContain(TEST_TOKEN);
      expect(JSON.stringify(headers)).not.toContain(OPERATOR_KEY);
    }
  });

  it('audits calls and refusals with the upstream named in every event', async () => {
    const client = await connectClient(gateway.mcpUrl('everything'), { 'X-API-Key': VIEWER_KEY });
    await client.client.callTool({ name: 'echo', arguments: { message: 'audited' } });
    await client.close();
    await fetch(gateway.mcpUrl('everything'), {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, 'X-API-Key': VIEWER_KEY },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get-sum', arguments: { a: 1, b: 2 } } }),
    });
    const events = auditLines(gateway.auditDir);
    const call = events.find((event) => event.type === 'tool.call' && event.action === 'tools/call echo');
    expect(call?.details?.upstream).toBe('everything');
    const denied = events.find((event) => event.type === 'authz.denied' && event.action.includes('get-sum'));
    expect(denied?.details?.upstream).toBe('everything');
  });

  it('answers an unauthenticated request with 401 and never opens a session', async () => {
    const response = await fetch(gateway.mcpUrl('modern'), { method: 'POST', headers: MCP_POST_HEADERS, body: JSON.stringify(INITIALIZE) });
    expect(response.status).toBe(401);
  });
});
