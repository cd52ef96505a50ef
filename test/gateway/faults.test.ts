import { freePort } from '../docs/examples.js';
import { MCP_POST_HEADERS, readRpc, TEST_TOKEN } from '../helpers/server.js';
import { startHostileUpstream } from './hostile-upstream.js';
import { startTestGateway, UPSTREAM_TOKEN, type TestGateway } from './helpers.js';

const OPEN = { default: { tools: 'tools:call' } };
type RpcAnswer = {
  result?: { content?: Array<{ text?: string }>; isError?: boolean };
  error?: { code: number; message: string; data?: Record<string, unknown> };
};

describe('upstream faults', () => {
  let hostile: Awaited<ReturnType<typeof startHostileUpstream>>;
  let gateway: TestGateway;
  let downPort: number;
  beforeAll(async () => {
    hostile = await startHostileUpstream();
    downPort = await freePort();
    gateway = await startTestGateway(
      {
        hostile: {
          url: hostile.url,
          protocol: '2025',
          auth: { type: 'bearer', token: { env: 'UPSTREAM_TOKEN' } },
          callTimeout: '1s',
          maxResponseBytes: '1mb',
          policy: OPEN,
        },
        down: { url: `http://127.0.0.1:${downPort}/mcp`, protocol: '2025', policy: OPEN },
      },
      {},
      { UPSTREAM_TOKEN },
    );
  }, 30_000);
  afterAll(async () => {
    await gateway?.stop();
    hostile?.close();
  });

  const call = async (upstream: string, tool: string, signal?: AbortSignal): Promise<{ status: number; answer: RpcAnswer; ms: number }> => {
    const started = Date.now();
    const response = await fetch(gateway.mcpUrl(upstream), {
      method: 'POST',
      headers: {
        ...MCP_POST_HEADERS,
        Authorization: `Bearer ${TEST_TOKEN}`,
        'MCP-Protocol-Version': '2026-07-28',
        'Mcp-Method': 'tools/call',
        'Mcp-Name': tool,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: tool,
          arguments: {},
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
      ...(signal ? { signal } : {}),
    });
    const [answer] = await readRpc<RpcAnswer>(response);
    return { status: response.status, answer: answer!, ms: Date.now() - started };
  };

  it('answers a call to an upstream that never answers with -32011 within its callTimeout, and cancels it upstream', async () => {
    const { answer, ms } = await call('hostile', 'slow');
    expect(answer.error).toMatchObject({ code: -32011, data: { code: 'upstream_timeout', upstream: 'hostile' } });
    expect(ms).toBeLessThan(5_000);
    expect(hostile.log.cancelled.length).toBeGreaterThan(0);
  });

  it.each([
    ['garbage', 'a body that is not JSON'],
    ['huge', 'a 3 MiB body over a 1 MiB limit'],
  ])('answers %s (%s) with -32012', async (tool) => {
    const { answer } = await call('hostile', tool);
    expect(answer.error).toMatchObject({ code: -32012, data: { code: 'upstream_bad_response', upstream: 'hostile' } });
  });

  it.each([
    ['endless', 'small events forever, never a result'],
    ['endless_event', 'one SSE event that never ends (cut at the size limit, never buffered whole)'],
  ])('ends %s (%s) by the callTimeout with a JSON-RPC error and closes the stream upstream', async (tool) => {
    const closed = hostile.log.closedStreams;
    const { answer, ms } = await call('hostile', tool);
    expect([-32011, -32012]).toContain(answer.error?.code);
    expect(ms).toBeLessThan(5_000);
    const deadline = Date.now() + 5_000;
    while (hostile.log.closedStreams === closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(hostile.log.closedStreams).toBeGreaterThan(closed);
  });

  it('answers a dropped connection with a JSON-RPC error, and still serves the next call', async () => {
    const { answer } = await call('hostile', 'crash');
    expect([-32010, -32012]).toContain(answer.error?.code);
    expect((await call('hostile', 'ok')).answer.result?.content?.[0]?.text).toBe('fine');
  });

  it('answers a call to an upstream that is down with -32010 at once, and /ready reports it degraded while the gateway stays ready', async () => {
    const { answer, ms } = await call('down', 'ok');
    expect(answer.error).toMatchObject({ code: -32010, data: { code: 'upstream_unavailable', upstream: 'down' } });
    expect(ms).toBeLessThan(5_000);
    const ready = await fetch(`${gateway.url}/ready`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { checks: Record<string, { status: string }> };
    expect(body.checks['upstream:down']?.status).toBe('degraded');
    expect(body.checks['upstream:hostile']?.status).toBe('ok');
  });

  it('cancels the upstream call when the client goes away', async () => {
    const before = hostile.log.cancelled.length;
    const controller = new AbortController();
    const pending = call('hostile', 'slow', controller.signal).catch(() => undefined);
    // Abort once the upstream has the call.
    const deadline = Date.now() + 5_000;
    const calls = () => hostile.log.methods.filter((method) => method === 'tools/call').length;
    const seen = calls();
    while (calls() === seen && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    await pending;
    while (hostile.log.cancelled.length === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(hostile.log.cancelled.length).toBeGreaterThan(before);
  });

  it('never shows the upstream credential to a client, even when the upstream echoes it', async () => {
    const { answer } = await call('hostile', 'echo_headers');
    const text = answer.result?.content?.[0]?.text ?? '';
    expect(text).toContain('authorization');
    expect(text).toContain('[redacted]');
    expect(text).not.toContain(UPSTREAM_TOKEN);
  });
});
