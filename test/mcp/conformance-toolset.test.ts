import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MCP_POST_HEADERS, connectClient, readRpc, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const TOOLS_ONLY_KEY = 'tools-only-secret-0123456789abcdef0123456789abcdef';
const call = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });

describe('the conformance toolset', () => {
  let server: TestServer;
  const rbac = tempDir('mcp-guard-rbac-');
  beforeAll(async () => {
    // A role that may list everything but use only tools: prompts and resources must stay out of its reach.
    const file = join(rbac.dir, 'rbac.json');
    writeFileSync(file, JSON.stringify({ roles: { 'tools-only': ['tools:list', 'tools:call', 'prompts:list', 'resources:list'] } }));
    server = await startTestServer({
      MCP_TOOLSET: 'conformance',
      MCP_RBAC_FILE: file,
      MCP_API_KEYS: `tools-only:tools-only:${TOOLS_ONLY_KEY}`,
      MCP_SESSION_MODE: 'stateless',
      MCP_RATE_LIMIT: '10000',
    });
  });
  afterAll(async () => {
    await server.stop();
    rbac.remove();
  });

  it('offers the suite its tools, prompts, resources and resource template', async () => {
    const { client, close } = await connectClient(server.mcpUrl);
    try {
      const tools = (await client.listTools()).tools.map((tool) => tool.name);
      expect(tools).toEqual(expect.arrayContaining(['test_simple_text', 'test_sampling', 'test_elicitation_sep1330_enums']));
      expect((await client.listPrompts()).prompts).toHaveLength(5);
      expect((await client.listResources()).resources.map((resource) => resource.uri)).toContain('test://watched-resource');
      const read = await client.readResource({ uri: 'test://template/42/data' });
      expect(JSON.parse((read.contents[0] as { text: string }).text)).toEqual({ id: '42', templateTest: true, data: 'Data for ID: 42' });
      expect(await client.callTool({ name: 'test_error_handling', arguments: {} })).toMatchObject({ isError: true });
    } finally {
      await close();
    }
  });

  it('audits resource reads and prompt gets like tool calls', async () => {
    const { client, close } = await connectClient(server.mcpUrl);
    try {
      await client.readResource({ uri: 'test://static-text' });
      const prompt = (await client.listPrompts()).prompts[0]!;
      await client
        .getPrompt({ name: prompt.name, arguments: prompt.arguments?.length ? { arg1: 'a', arg2: 'b' } : {} })
        .catch(() => undefined);
    } finally {
      await close();
    }
    const events = readFileSync(join(server.auditDir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; action: string });
    expect(events).toContainEqual(expect.objectContaining({ type: 'resource.read', action: 'resources/read test://static-text' }));
    expect(events.some((event) => event.type === 'prompt.get')).toBe(true);
  });

  it('registers no prompt or resource for a principal without their permissions and refuses them', async () => {
    const { client, close } = await connectClient(server.mcpUrl, { 'X-API-Key': TOOLS_ONLY_KEY });
    try {
      // Nothing registered means no capability announced and no handler to reach.
      expect(client.getServerCapabilities()?.prompts).toBeUndefined();
      expect(client.getServerCapabilities()?.resources).toBeUndefined();
      await expect(client.getPrompt({ name: 'test_simple_prompt' })).rejects.toThrow();
      await expect(client.readResource({ uri: 'test://template/1/data' })).rejects.toThrow();
      expect((await client.callTool({ name: 'test_simple_text', arguments: {} })).content).toHaveLength(1);
    } finally {
      await close();
    }
  });
});

describe('the per-IP rate limit with the conformance toolset', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      MCP_TOOLSET: 'conformance',
      MCP_SESSION_MODE: 'stateless',
      MCP_RATE_LIMIT: '3',
      MCP_RATE_LIMIT_WINDOW: '1m',
    });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('still answers 429 to the tool call over the limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const response = await fetch(server.mcpUrl, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, Authorization: `Bearer test-token-0123456789abcdef0123456789abcdef` },
        body: JSON.stringify(call(i, 'test_simple_text')),
      });
      statuses.push(response.status);
      await readRpc(response).catch(() => []);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});
