import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { INITIALIZE, MCP_POST_HEADERS, startTestServer, tempDir, TEST_TOKEN } from '../helpers/server.js';
import { expectSafeRefusal, startHostileServer } from './helpers.js';

const AUTH = { Authorization: `Bearer ${TEST_TOKEN}` };
const initialize = (url: string) =>
  fetch(url, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...AUTH }, body: JSON.stringify(INITIALIZE) });

describe('an audit log that cannot be written', () => {
  let hostile: Awaited<ReturnType<typeof startHostileServer>>;
  beforeAll(async () => {
    hostile = await startHostileServer();
  });
  afterAll(async () => {
    await hostile.stop();
  });

  it('fails closed with 503 for requests it cannot audit, says so in /ready, and recovers once repaired', async () => {
    const { mcpUrl, url, auditDir } = hostile.server;
    expect((await initialize(mcpUrl)).status).toBe(200);
    expect((await fetch(`${url}/ready`)).status).toBe(200);

    // Root ignores file modes, so break the trail by putting a directory where the file was.
    const trail = join(auditDir, 'audit.jsonl');
    rmSync(trail);
    mkdirSync(trail);

    const refused = await initialize(mcpUrl);
    expect(refused.status).toBe(503);
    const body = await refused.text();
    expectSafeRefusal(400, body, { rpc: true }); // the shape; the status is checked above
    expect(JSON.parse(body)).toMatchObject({ error: { data: { code: 'unavailable' } } });
    expect(body).not.toContain(auditDir);

    const unauthenticated = await fetch(mcpUrl, { method: 'POST', headers: MCP_POST_HEADERS, body: JSON.stringify(INITIALIZE) });
    expect(unauthenticated.status).toBe(503); // even a refusal is not sent unrecorded

    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', checks: { audit: { status: 'down' } } });
    expect((await fetch(`${url}/health`)).status).toBe(200);

    rmSync(trail, { recursive: true });
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    expect((await initialize(mcpUrl)).status).toBe(200);
    expect(readFileSync(trail, 'utf8')).toContain('"auth.success"');
  });

  it('refuses to start when the audit directory cannot be created', async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.dir, 'not-a-dir'), '');
      await expect(startTestServer({ MCP_AUDIT_DIR: join(dir.dir, 'not-a-dir', 'audit') })).rejects.toThrow();
    } finally {
      dir.remove();
    }
  });
});

describe('SIGTERM with open SSE streams and tool calls in flight', () => {
  it('ends the streams, answers or cleanly drops each call, exits 0, and audits every call that returned a result', async () => {
    const audit = tempDir();
    const child = spawn(process.execPath, [join(process.cwd(), 'dist', 'main.js')], {
      env: {
        PATH: process.env.PATH ?? '',
        MCP_PORT: '0',
        MCP_AUTH_TOKEN: TEST_TOKEN,
        MCP_AUDIT_DIR: audit.dir,
        MCP_SHUTDOWN_TIMEOUT: '3s',
        MCP_RATE_LIMIT: '100000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('server did not start')), 10_000);
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const match = /"url":"(http:\/\/[^"]+)"/.exec(line);
          if (match && line.includes('listening')) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
      });
      const init = await initialize(`${url}/mcp`);
      const sessionId = init.headers.get('mcp-session-id')!;
      await init.text();
      const session = { ...AUTH, 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-06-18' };
      await (
        await fetch(`${url}/mcp`, {
          method: 'POST',
          headers: { ...MCP_POST_HEADERS, ...session },
          body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
        })
      ).text();

      const stream = await fetch(`${url}/mcp`, { headers: { ...session, Accept: 'text/event-stream' } });
      expect(stream.status).toBe(200);
      const streamEnded = stream.text().then(
        () => 'ended',
        () => 'reset',
      );

      const call = async (id: number) => {
        try {
          const response = await fetch(`${url}/mcp`, {
            method: 'POST',
            headers: { ...MCP_POST_HEADERS, ...session },
            body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text: `call ${id}` } } }),
          });
          const text = await response.text();
          return { status: response.status, requestId: response.headers.get('x-request-id'), answered: text.includes(`call ${id}`), text };
        } catch {
          return { status: 0, requestId: null, answered: false, text: '' };
        }
      };
      const calls = Array.from({ length: 40 }, (_, id) => call(id + 10));
      await new Promise((resolve) => setTimeout(resolve, 5));
      const begin = Date.now();
      child.kill('SIGTERM');
      const outcomes = await Promise.all(calls);
      // More calls after the signal: refused or not connected, never a 5xx.
      const late = await call(99);

      expect(await streamEnded).toBe('ended');
      expect(await exited).toBe(0);
      expect(Date.now() - begin).toBeLessThan(6_000);

      for (const outcome of [...outcomes, late]) {
        expect([0, 200, 404, 503]).toContain(outcome.status);
        expect(outcome.text).not.toMatch(/\bat .+\.js:\d+/);
      }
      const events = readFileSync(join(audit.dir, 'audit.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { type: string; context?: { requestId?: string; sessionId?: string } });
      const audited = new Set(events.filter((event) => event.type === 'tool.call').map((event) => event.context?.requestId));
      for (const outcome of outcomes.filter((o) => o.answered)) expect(audited).toContain(outcome.requestId);
      expect(events.some((event) => event.type === 'session.closed' && event.context?.sessionId === sessionId)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      audit.remove();
    }
  });
});
