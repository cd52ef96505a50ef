import { join } from 'node:path';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { keysCommand } from '../../src/cli/commands/keys.js';
import { GuardError } from '../../src/errors/guard-error.js';
import { createGuardMetrics } from '../../src/metrics/guard-metrics.js';
import { createLiveMetricsRoute } from '../../src/routes/metrics.js';
import { MCP_POST_HEADERS, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { createStoreKey, initialize } from './helpers.js';

/** Opens an SSE stream (reading its first chunk when `firstChunk`); `ended` resolves once the server ends it. */
async function openStream(url: string, headers: Record<string, string>, firstChunk = true) {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: controller.signal });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  if (firstChunk) await reader.read();
  const ended = (async () => {
    for (;;) if ((await reader.read()).done) return true;
  })().catch(() => false);
  return { ended, abort: () => controller.abort() };
}

const within = <T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> =>
  Promise.race([promise, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref())]);

describe('a key revoked while its streams are open, on a server without Redis', () => {
  let server: TestServer;
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  let watcher: { key: string; id: string };
  let greedy: { key: string; id: string };
  beforeAll(async () => {
    dir = tempDir();
    path = join(dir.dir, 'keys.json');
    watcher = await createStoreKey(path, { name: 'watcher', role: 'admin' });
    greedy = await createStoreKey(path, { name: 'greedy', role: 'monitor' });
    server = await startTestServer({ MCP_AUTH_TOKEN: '', MCP_KEY_STORE: path });
  });
  afterAll(async () => {
    await server.stop();
    dir.remove();
  });

  it('ends its MCP GET stream and its /metrics/live stream at once', async () => {
    const key = watcher;
    const headers = { 'X-API-Key': key.key };
    const init = await initialize(server.mcpUrl, headers);
    expect(init.status).toBe(200);
    await init.text();
    const sessionId = init.headers.get('mcp-session-id')!;
    await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, ...headers, 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    const live = await openStream(`${server.url}/metrics/live`, headers);
    const mcp = await openStream(server.mcpUrl, { ...headers, 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-06-18' }, false);

    const out: string[] = [];
    const io = { stdout: (text: string) => out.push(text), stderr: (text: string) => out.push(text), env: { MCP_AUDIT_ENABLED: 'false' } };
    expect(await keysCommand.run(['revoke', key.id, '--store', path], io)).toBe(0);

    expect(await within(live.ended, 3000)).toBe(true);
    expect(await within(mcp.ended, 3000)).toBe(true);
    expect((await initialize(server.mcpUrl, headers)).status).toBe(401);
  });

  it('refuses a third live metrics stream of one principal with 429 and a clear message', async () => {
    const key = greedy;
    const headers = { 'X-API-Key': key.key };
    const first = await openStream(`${server.url}/metrics/live`, headers);
    const second = await openStream(`${server.url}/metrics/live`, headers);
    const third = await fetch(`${server.url}/metrics/live`, { headers });
    expect(third.status).toBe(429);
    const body = (await third.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toMatch(/at most 2 per principal/);
    first.abort();
    second.abort();
  });
});

describe('the live metrics route', () => {
  it('refuses streams beyond its global cap, whoever asks', async () => {
    const app = express();
    app.use((req, _res, next) => {
      req.guard = { principal: { id: String(req.headers['x-who']) } } as typeof req.guard;
      next();
    });
    app.get('/live', createLiveMetricsRoute({ registry: createGuardMetrics().registry, track: () => () => undefined, maxStreams: 2 }));
    app.use((error: GuardError, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(error.status).json({ code: error.code, message: error.message });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live`;
    try {
      const a = await openStream(url, { 'x-who': 'a' });
      const b = await openStream(url, { 'x-who': 'b' });
      const c = await fetch(url, { headers: { 'x-who': 'c' } });
      expect(c.status).toBe(429);
      expect(((await c.json()) as { message: string }).message).toMatch(/at most 2 in total/);
      a.abort();
      b.abort();
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
