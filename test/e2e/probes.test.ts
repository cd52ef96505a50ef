import { rawHttp, rawSocket, statusOf } from '../hostile/helpers.js';
import { startTestServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';

/** What a Kubernetes httpGet probe sends: the pod's address as Host, its own User-Agent. */
const KUBE_PROBE = { Host: '10.1.2.3:3000', 'User-Agent': 'kube-probe/1.30', Accept: '*/*', Connection: 'close' };

describe('liveness and readiness probes with a Host allowlist on', () => {
  let server: TestServer;
  let port: number;
  beforeAll(async () => {
    server = await startTestServer({ MCP_ALLOWED_HOSTS: 'mcp.example.com', MCP_PUBLIC_URL: 'https://mcp.example.com' });
    port = Number(new URL(server.url).port);
  });
  afterAll(async () => {
    await server.stop();
  });

  it.each(['/health', '/ready'])('answers a Kubernetes probe of %s that names the pod address in Host', async (path) => {
    const response = await rawHttp(port, { path, headers: KUBE_PROBE });
    expect(response.status).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect((await rawHttp(port, { method: 'HEAD', path, headers: KUBE_PROBE })).status).toBe(200);
  });

  it.each([
    ['Origin', { Origin: 'http://10.1.2.3:3000' }],
    ['Referer', { Referer: 'http://10.1.2.3:3000/' }],
    ['Cookie', { Cookie: 'a=b' }],
    ['Sec-Fetch-Site', { 'Sec-Fetch-Site': 'same-origin', 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Dest': 'empty' }],
  ])('still refuses a foreign Host on /health and /ready when the request carries %s, as a browser would', async (_name, extra) => {
    for (const path of ['/health', '/ready']) {
      const response = await rawHttp(port, { path, headers: { Host: 'rebind.example:3000', ...extra } });
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body)).toEqual({ error: { code: 'host_not_allowed', message: 'Host not allowed' } });
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('exempts only GET and HEAD of /health and /ready: every other route and method keeps the Host check', async () => {
    for (const [method, path] of [
      ['GET', '/metrics'],
      ['GET', '/mcp'],
      ['GET', '/health/x'],
      ['GET', '/.well-known/oauth-protected-resource'],
      ['POST', '/health'],
    ] as const) {
      const response = await rawHttp(port, { method, path, headers: { ...KUBE_PROBE, Authorization: `Bearer ${TEST_TOKEN}` } });
      expect(`${method} ${path} ${response.status}`).toBe(`${method} ${path} 403`);
    }
  });

  it('serves the allowed host as before', async () => {
    expect((await rawHttp(port, { path: '/health', headers: { Host: 'mcp.example.com' } })).status).toBe(200);
  });
});

describe('two Host headers', () => {
  let server: TestServer;
  let port: number;
  beforeAll(async () => {
    server = await startTestServer();
    port = Number(new URL(server.url).port);
  });
  afterAll(async () => {
    await server.stop();
  });

  it.each(['/health', '/mcp', '/metrics'])('are refused on %s with 400 invalid_request, even when both are allowed', async (path) => {
    const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: localhost\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nConnection: close\r\n\r\n`;
    const { text } = await rawSocket(port, [request], { limitMs: 3_000 });
    expect(statusOf(text)).toBe(400);
    expect(text).toContain('invalid_request');
  });
});
