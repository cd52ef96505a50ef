import { INITIALIZE, MCP_POST_HEADERS, readRpc, startTestServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';

describe('the 2025 session endpoint', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_TOOLSET: 'conformance', MCP_RATE_LIMIT: '100000' });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('answers or refuses every request that reuses an id in flight, and leaves none hanging', async () => {
    const auth = { Authorization: `Bearer ${TEST_TOKEN}` };
    const init = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, ...auth },
      body: JSON.stringify(INITIALIZE),
    });
    await init.text();
    const session = {
      ...MCP_POST_HEADERS,
      ...auth,
      'Mcp-Session-Id': init.headers.get('mcp-session-id')!,
      'MCP-Protocol-Version': '2025-06-18',
    };
    await (
      await fetch(server.mcpUrl, {
        method: 'POST',
        headers: session,
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      })
    ).text();
    // A tool that takes about 100 ms keeps the first request in flight while the others arrive.
    const call = JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'test_tool_with_progress', arguments: {} },
    });
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const response = await fetch(server.mcpUrl, { method: 'POST', headers: session, body: call, signal: AbortSignal.timeout(10_000) });
        const [message] = await readRpc<{ id?: unknown; result?: unknown; error?: { code: number } }>(response);
        return { status: response.status, answered: message?.result !== undefined, code: message?.error?.code };
      }),
    );
    const answered = outcomes.filter((outcome) => outcome.answered);
    const refused = outcomes.filter((outcome) => outcome.status === 400 && outcome.code === -32600);
    expect(answered.length).toBeGreaterThanOrEqual(1);
    expect(answered.length + refused.length).toBe(12);
    // Once answered, the id may be used again.
    const again = await fetch(server.mcpUrl, { method: 'POST', headers: session, body: call });
    expect((await readRpc<{ result?: unknown }>(again))[0]?.result).toBeDefined();
  });
});
