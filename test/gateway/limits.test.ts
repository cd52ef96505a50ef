import { MCP_POST_HEADERS, readRpc, TEST_TOKEN } from '../helpers/server.js';
import { EVERYTHING, startTestGateway, type TestGateway } from './helpers.js';

describe('rate limits per upstream', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    const upstream = (limits: Record<string, unknown>) => ({
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
      share: 'shared',
      policy: { tools: { echo: 'tools:call' } },
      limits,
    });
    gateway = await startTestGateway({
      tight: upstream({ tools: { echo: { perMinute: 1, burst: 1 } } }),
      loose: upstream({}),
    });
  }, 30_000);
  afterAll(async () => gateway?.stop());

  const echo = async (name: string, id: number) => {
    const response = await fetch(gateway.mcpUrl(name), {
      method: 'POST',
      headers: {
        ...MCP_POST_HEADERS,
        Authorization: `Bearer ${TEST_TOKEN}`,
        'MCP-Protocol-Version': '2026-07-28',
        'Mcp-Method': 'tools/call',
        'Mcp-Name': 'echo',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: {
          name: 'echo',
          arguments: { message: 'x' },
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
    });
    const [answer] = await readRpc<{ error?: { code: number } }>(response);
    return { status: response.status, answer: answer! };
  };

  it('applies an upstream’s own tool limit, in its own counters: the same tool of another upstream is unaffected', async () => {
    expect((await echo('tight', 1)).status).toBe(200);
    const limited = await echo('tight', 2);
    expect(limited.status).toBe(429);
    expect(limited.answer.error?.code).toBe(-32029);
    expect((await echo('loose', 3)).status).toBe(200);
    expect((await echo('loose', 4)).status).toBe(200);
  });
});
