import { eventData, modernRequest, openSessionToken, startTestServer, type TestServer } from '../helpers/server.js';

const secret = (name: string) => `${name}-secret-0123456789abcdef0123456789abcdef`;
const KEYS = ['viewer', 'operator', 'monitor'].map((role) => `${role}:${role}:${secret(role)}`).join(',');

interface OpenStream {
  response: Response;
  first: string;
  /** Resolves once the server ended the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens a subscriptions/listen stream and reads its acknowledgement. */
async function listen(
  server: TestServer,
  credential: Record<string, string>,
  notifications: Record<string, unknown> = { toolsListChanged: true },
) {
  const controller = new AbortController();
  const request = modernRequest('subscriptions/listen', { notifications });
  const response = await fetch(server.mcpUrl, {
    method: 'POST',
    headers: { ...request.headers, ...credential },
    body: request.body,
    signal: controller.signal,
  });
  if (response.status !== 200) return { response };
  const reader = response.body!.getReader();
  let first = '';
  while (!first.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    first += Buffer.from(value).toString('utf8');
  }
  const ended = (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // A reset connection ends the stream too.
    }
  })();
  return { response, first, ended, close: () => controller.abort() } satisfies OpenStream;
}

describe('subscriptions/listen streams', () => {
  let server: TestServer;
  beforeEach(async () => {
    server = await startTestServer({ MCP_API_KEYS: KEYS, MCP_MAX_LISTEN_STREAMS_PER_PRINCIPAL: '2' });
  });
  afterEach(async () => {
    await server.stop();
  });

  it('open with the acknowledgement for a principal allowed to listen', async () => {
    const stream = await listen(server, { 'X-API-Key': secret('viewer') });
    expect(stream.response.status).toBe(200);
    const ack = eventData<{ method: string; params: { notifications: Record<string, unknown> } }>((stream as OpenStream).first);
    expect(ack).toMatchObject({
      method: 'notifications/subscriptions/acknowledged',
      params: { notifications: { toolsListChanged: true } },
    });
    (stream as OpenStream).close();
  });

  it('need subscriptions:listen and the permission to see what they announce', async () => {
    expect((await listen(server, { 'X-API-Key': secret('monitor') })).response.status).toBe(403);
    const undeclared = await listen(server, { 'X-API-Key': secret('viewer') }, { resourceSubscriptions: ['file:///etc/passwd'] });
    expect(undeclared.response.status).toBe(403);
  });

  it('are capped per principal with 429 and Retry-After, without touching other principals', async () => {
    const viewer = { 'X-API-Key': secret('viewer') };
    const open = [await listen(server, viewer), await listen(server, viewer)];
    const third = await listen(server, viewer);
    expect(third.response.status).toBe(429);
    expect(Number(third.response.headers.get('retry-after'))).toBeGreaterThan(0);
    const other = await listen(server, { 'X-API-Key': secret('operator') });
    expect(other.response.status).toBe(200);
    for (const stream of [...open, other]) (stream as OpenStream).close();
  });

  it('end when the server shuts down', async () => {
    const stream = (await listen(server, { 'X-API-Key': secret('viewer') })) as OpenStream;
    expect(stream.response.status).toBe(200);
    const stopping = server.running.stop();
    await stream.ended;
    await stopping;
  });
});

describe('a subscriptions/listen stream of a development session token', () => {
  it('ends when the token dies with its /session stream', async () => {
    const server = await startTestServer({ MCP_AUTH_TOKEN: '' });
    try {
      const session = await openSessionToken(server.url);
      const stream = (await listen(server, { Authorization: `Bearer ${session.token}` })) as OpenStream;
      expect(stream.response.status).toBe(200);
      session.close();
      await stream.ended;
    } finally {
      await server.stop();
    }
  });
});
