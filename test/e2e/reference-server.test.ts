import { TEST_API_KEY, TEST_TOKEN, connectClient, startTestServer, type TestServer } from '../helpers/server.js';

describe('the reference server with the official SDK client', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_API_KEYS: `ci:operator:${TEST_API_KEY}` });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('lets a client with the bearer token list and call tools', async () => {
    const { client, close } = await connectClient(server.mcpUrl);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['echo', 'time', 'kv_get', 'kv_set', 'list_sessions']));
    const result = await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    expect(result.content).toEqual([{ type: 'text', text: 'hello' }]);
    await close();
  });

  it('lets a client with an API key in X-API-Key work with the tools its role allows', async () => {
    const { client, close } = await connectClient(server.mcpUrl, { 'X-API-Key': TEST_API_KEY });
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain('kv_set');
    expect(names).not.toContain('list_sessions');
    await client.callTool({ name: 'kv_set', arguments: { key: 'greeting', value: 'hi' } });
    const read = await client.callTool({ name: 'kv_get', arguments: { key: 'greeting' } });
    expect(read.content).toEqual([{ type: 'text', text: 'hi' }]);
    await close();
  });

  it('hands tools the authenticated principal through extra.authInfo', async () => {
    const { client, close } = await connectClient(server.mcpUrl);
    const result = await client.callTool({ name: 'list_sessions', arguments: {} });
    const sessions = JSON.parse((result.content as Array<{ text: string }>)[0]!.text) as Array<{ principalId: string }>;
    expect(sessions.map((session) => session.principalId)).toContain('token:static');
    await close();
  });

  it('accepts an API key sent as a bearer token', async () => {
    const { client, close } = await connectClient(server.mcpUrl, { Authorization: `Bearer ${TEST_API_KEY}` });
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await close();
  });

  it('refuses the SDK client with a wrong token', async () => {
    await expect(connectClient(server.mcpUrl, { Authorization: `Bearer ${TEST_TOKEN}x` })).rejects.toThrow();
  });
});
