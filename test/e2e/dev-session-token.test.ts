import {
  INITIALIZE,
  MCP_POST_HEADERS,
  connectClient,
  eventData,
  readFirstEvent,
  startTestServer,
  type TestServer,
} from '../helpers/server.js';

/** Opens `GET /session` and returns the token of its first `session-token` event and a way to close the stream. */
async function openSessionStream(server: TestServer): Promise<{ token: string; expiresAt: string; close(): void }> {
  const controller = new AbortController();
  const response = await fetch(`${server.url}/session`, { signal: controller.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const text = await readFirstEvent(response);
  expect(text).toContain('event: session-token');
  return { ...eventData<{ token: string; expiresAt: string }>(text), close: () => controller.abort() };
}

async function statusWith(server: TestServer, token: string): Promise<number> {
  const response = await fetch(server.mcpUrl, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${token}` },
    body: JSON.stringify(INITIALIZE),
  });
  await response.text();
  return response.status;
}

describe('development-mode session tokens', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_AUTH_TOKEN: '' });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('hands out a random token of at least 128 bits that expires within an hour', async () => {
    const stream = await openSessionStream(server);
    expect(stream.token).toMatch(/^mcpg_sess_[A-Za-z0-9_-]{22,}$/);
    expect(Date.parse(stream.expiresAt) - Date.now()).toBeLessThanOrEqual(3_600_000);
    stream.close();
  });

  it('lets the SDK client work with the token while the stream is open, and refuses it after the stream closed', async () => {
    const stream = await openSessionStream(server);
    const { client, close } = await connectClient(server.mcpUrl, { Authorization: `Bearer ${stream.token}` });
    const result = await client.callTool({ name: 'echo', arguments: { message: 'dev' } });
    expect(result.content).toEqual([{ type: 'text', text: 'dev' }]);
    await close();
    stream.close();
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 401; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      status = await statusWith(server, stream.token);
    }
    expect(status).toBe(401);
  });

  it('never accepts a made-up session token', async () => {
    expect(await statusWith(server, 'mcpg_sess_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBe(401);
  });
});

describe('the session route outside development mode', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('does not exist when a credential is configured', async () => {
    const response = await fetch(`${server.url}/session`);
    await response.text();
    expect(response.status).toBe(404);
  });
});
