import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import {
  INITIALIZE,
  MCP_POST_HEADERS,
  TEST_API_KEY,
  TEST_TOKEN,
  eventData,
  readFirstEvent,
  startTestServer,
  type TestServer,
} from '../helpers/server.js';

const AUTH = { Authorization: `Bearer ${TEST_TOKEN}` };

function post(server: TestServer, body: unknown, headers: Record<string, string> = {}) {
  return fetch(server.mcpUrl, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, ...AUTH, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Reads the events of an SSE or JSON response as JSON-RPC messages. */
async function messagesOf(response: Response): Promise<Array<Record<string, unknown>>> {
  const text = await response.text();
  if ((response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    return text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
  }
  const parsed = JSON.parse(text) as Record<string, unknown> | Array<Record<string, unknown>>;
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** A POST with node:http, which (unlike fetch) lets the test set the Host header. */
function rawRequest(server: TestServer, headers: Record<string, string>): Promise<{ status: number }> {
  const body = JSON.stringify(INITIALIZE);
  return new Promise((resolve, reject) => {
    const req = request(server.mcpUrl, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...AUTH, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function auditEvents(server: TestServer): Array<{ type: string; details?: Record<string, unknown> }> {
  const text = readFileSync(join(server.auditDir, 'audit.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { type: string });
}

describe('the HTTP contract of /mcp', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      MCP_API_KEYS: `viewer-key:viewer:${TEST_API_KEY}`,
      MCP_CORS_ORIGINS: 'https://app.example.com',
      MCP_BODY_LIMIT: '2kb',
    });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('answers a request without a credential with 401 and a bare Bearer challenge', async () => {
    const response = await post(server, INITIALIZE, { Authorization: '' });
    expect(response.status).toBe(401);
    const challenge = response.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer( |$)/);
    expect(challenge).not.toContain('error=');
    const [message] = await messagesOf(response);
    expect(message).toMatchObject({ jsonrpc: '2.0', error: { code: expect.any(Number) } });
  });

  it('answers a wrong token with 401 and error="invalid_token", without echoing it', async () => {
    const response = await post(server, INITIALIZE, { Authorization: 'Bearer not-the-token-but-long-enough-0123456789' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const text = await response.text();
    expect(text).not.toContain('not-the-token');
    expect(text).not.toMatch(/at .*\.js:\d+/);
  });

  it('never creates a session for a request that fails authentication', async () => {
    const before = server.running.guard.endpoint.listSessions().length;
    const response = await post(server, INITIALIZE, { Authorization: 'Bearer not-the-token-but-long-enough-0123456789' });
    await response.text();
    expect(response.status).toBe(401);
    expect(response.headers.get('mcp-session-id')).toBeNull();
    expect(server.running.guard.endpoint.listSessions().length).toBe(before);
  });

  it('refuses a request that carries two credentials at once with 400', async () => {
    const response = await post(server, INITIALIZE, { 'X-API-Key': TEST_API_KEY });
    expect(response.status).toBe(400);
  });

  it('answers an oversized body with 413', async () => {
    const response = await post(server, { ...INITIALIZE, params: { ...INITIALIZE.params, padding: 'x'.repeat(4096) } });
    expect(response.status).toBe(413);
  });

  it('answers a body that is not JSON by content type with 415', async () => {
    const response = await post(server, 'hello', { 'Content-Type': 'text/plain' });
    expect(response.status).toBe(415);
  });

  it('answers malformed JSON with a JSON-RPC parse error', async () => {
    const response = await post(server, '{"jsonrpc":"2.0",');
    expect(response.status).toBe(400);
    const [message] = await messagesOf(response);
    expect(message).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
  });

  it('refuses a foreign Origin on /mcp with 403 before authentication', async () => {
    // No credential, then a wrong one: were authentication first, both would be 401.
    const credentials: Array<Record<string, string>> = [{}, { Authorization: 'Bearer not-the-token-0123456789abcdef0123456789' }];
    for (const credential of credentials) {
      const response = await fetch(server.mcpUrl, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, ...credential, Origin: 'https://evil.example.net' },
        body: JSON.stringify(INITIALIZE),
      });
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toBeNull();
      expect(await response.json()).toMatchObject({ error: { data: { code: 'origin_not_allowed' } } });
    }
  });

  it('refuses a foreign Host header (DNS rebinding) with 403', async () => {
    const { status } = await rawRequest(server, { Host: 'attacker.example.net' });
    expect(status).toBe(403);
    const loopback = await rawRequest(server, { Host: `localhost:${new URL(server.url).port}` });
    expect(loopback.status).toBe(200);
  });

  it('answers a CORS preflight from an allowed origin with the MCP headers', async () => {
    const response = await fetch(server.mcpUrl, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example.com',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, content-type, mcp-session-id, mcp-protocol-version',
      },
    });
    expect(response.status).toBeLessThan(300);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect((response.headers.get('access-control-allow-headers') ?? '').toLowerCase()).toContain('mcp-session-id');
  });

  it('gives a preflight from another origin no CORS headers', async () => {
    const response = await fetch(server.mcpUrl, {
      method: 'OPTIONS',
      headers: { Origin: 'https://other.example.org', 'Access-Control-Request-Method': 'POST' },
    });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers a session id initialized by another principal with 404 and audits the attempt', async () => {
    const init = await post(server, INITIALIZE);
    expect(init.status).toBe(200);
    const sessionId = init.headers.get('mcp-session-id');
    expect(sessionId).toBeTruthy();
    await init.text();
    const stolen = await post(
      server,
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { Authorization: `Bearer ${TEST_API_KEY}`, 'Mcp-Session-Id': sessionId!, 'MCP-Protocol-Version': '2025-06-18' },
    );
    expect(stolen.status).toBe(404);
    const unknown = await post(
      server,
      { jsonrpc: '2.0', id: 3, method: 'tools/list' },
      { Authorization: `Bearer ${TEST_API_KEY}`, 'Mcp-Session-Id': 'no-such-session', 'MCP-Protocol-Version': '2025-06-18' },
    );
    expect(unknown.status).toBe(404);
    expect(auditEvents(server).some((event) => event.type === 'session.hijack_attempt')).toBe(true);
  });

  it('sends security headers and no caching on every answer', async () => {
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('x-powered-by')).toBeNull();
    expect(response.headers.get('x-request-id')).toBeTruthy();
  });

  it('keeps a well-formed client request id and replaces a malformed one', async () => {
    const kept = await fetch(`${server.url}/health`, { headers: { 'X-Request-ID': 'abc-123' } });
    expect(kept.headers.get('x-request-id')).toBe('abc-123');
    const replaced = await fetch(`${server.url}/health`, { headers: { 'X-Request-ID': 'bad id\twith spaces' } });
    expect(replaced.headers.get('x-request-id')).not.toContain(' ');
  });

  it('serves /metrics as Prometheus text to a principal with metrics:read only', async () => {
    const denied = await fetch(`${server.url}/metrics`);
    expect(denied.status).toBe(401);
    const response = await fetch(`${server.url}/metrics`, { headers: AUTH });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    const samples = text.split('\n').filter((line) => line && !line.startsWith('#'));
    expect(samples.length).toBeGreaterThan(0);
    for (const line of samples) expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/);
    expect(text).toContain('# TYPE mcp_guard_http_requests_total counter');
  });

  it('streams a metrics snapshot over /metrics/live', async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/metrics/live`, { headers: AUTH, signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const text = await readFirstEvent(response);
    controller.abort();
    expect(eventData(text)).toEqual(expect.any(Object));
  });
});

describe('the per-IP rate limit', () => {
  // Each test gets its own server, so that neither depends on what the other used of the limit.
  let server: TestServer;
  beforeEach(async () => {
    server = await startTestServer({ MCP_RATE_LIMIT: '3', MCP_RATE_LIMIT_WINDOW: '1m' });
  });
  afterEach(async () => {
    await server.stop();
  });

  it('answers the request over the limit with 429, Retry-After and a JSON-RPC retryAfter', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i += 1) {
      last = await post(server, { jsonrpc: '2.0', id: 7, method: 'ping' });
      statuses.push(last.status);
      if (i < 3) await last.text();
    }
    expect(statuses[3]).toBe(429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last!.headers.get('ratelimit-limit') ?? last!.headers.get('ratelimit')).toBeTruthy();
    const [message] = await messagesOf(last!);
    expect(message).toMatchObject({ jsonrpc: '2.0', id: null, error: { data: { retryAfter: expect.any(Number) } } });
  });

  it('does not let X-Forwarded-For move a request to another bucket when no proxy is trusted', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const response = await post(server, { jsonrpc: '2.0', id: 8, method: 'ping' }, { 'X-Forwarded-For': `203.0.113.${i + 1}` });
      statuses.push(response.status);
      await response.text();
    }
    // Four different claimed addresses, one real one: the fourth request is over the limit of 3.
    expect(statuses.slice(0, 3)).not.toContain(429);
    expect(statuses[3]).toBe(429);
  });
});
