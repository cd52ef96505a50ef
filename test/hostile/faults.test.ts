import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess } from '../helpers/process.js';
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

/** The JSON-RPC messages of an SSE response, read as they arrive. */
function sseMessages(response: Response) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const seen: Array<Record<string, unknown>> = [];
  let buffer = '';
  let ended = false;
  const pull = async (): Promise<boolean> => {
    if (ended) return false;
    let chunk;
    try {
      chunk = await reader.read();
    } catch {
      chunk = { done: true, value: undefined };
    }
    if (chunk.done) {
      ended = true;
      return false;
    }
    buffer += decoder.decode(chunk.value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const data = buffer
        .slice(0, end)
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice(6))
        .join('\n');
      buffer = buffer.slice(end + 2);
      if (data) seen.push(JSON.parse(data) as Record<string, unknown>);
    }
    return true;
  };
  return {
    seen,
    /** Resolves with the first message matching `match`, reading on as needed; rejects if the stream ends first. */
    async next(match: (message: Record<string, unknown>) => boolean) {
      for (;;) {
        const found = seen.find(match);
        if (found) return found;
        if (!(await pull())) throw new Error(`stream ended without the message: ${JSON.stringify(seen)}`);
      }
    },
    /** Reads to the end of the stream (or until the connection drops); every message seen. */
    async rest() {
      while (await pull());
      return seen;
    },
  };
}

describe('SIGTERM with open SSE streams and tool calls in flight', () => {
  it('ends the streams, lets calls in flight finish or drops them cleanly, exits 0, and audits every call that returned a result', async () => {
    const audit = tempDir();
    // The conformance toolset has tools that run for a while: test_tool_with_progress (about 100 ms)
    // and test_sampling, which waits for the client to answer its sampling request (never, here).
    const started = await startProcess({
      MCP_AUTH_TOKEN: TEST_TOKEN,
      MCP_AUDIT_DIR: audit.dir,
      MCP_SHUTDOWN_TIMEOUT: '3s',
      MCP_RATE_LIMIT: '100000',
      MCP_TOOLSET: 'conformance',
    });
    try {
      const mcpUrl = started.mcpUrl;
      const init = await fetch(mcpUrl, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, ...AUTH },
        body: JSON.stringify({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { sampling: {} } } }),
      });
      const sessionId = init.headers.get('mcp-session-id')!;
      await init.text();
      const session = { ...AUTH, 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-06-18' };
      const post = (message: object) =>
        fetch(mcpUrl, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...session }, body: JSON.stringify(message) });
      await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).text();

      const stream = await fetch(mcpUrl, { headers: { ...session, Accept: 'text/event-stream' } });
      expect(stream.status).toBe(200);
      const streamEnded = stream.text().then(
        () => 'ended',
        () => 'reset',
      );

      const startCall = async (id: number, name: string, args: object, meta?: object) => {
        // The tool.call audit record names the request by the X-Request-ID the client sent (only then).
        const requestId = `sigterm-call-${id}`;
        const response = await fetch(mcpUrl, {
          method: 'POST',
          headers: { ...MCP_POST_HEADERS, ...session, 'X-Request-ID': requestId },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id,
            method: 'tools/call',
            params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
          }),
        });
        expect(response.status).toBe(200);
        return { id, requestId, messages: sseMessages(response) };
      };
      // In flight, and stuck: the server sent its sampling request, so it is inside the tool.
      const stuck = await startCall(1, 'test_sampling', { prompt: 'never answered' });
      await stuck.messages.next((message) => message.method === 'sampling/createMessage');
      // In flight, and about to finish: each has reported its first progress.
      const running = await Promise.all([2, 3, 4].map((id) => startCall(id, 'test_tool_with_progress', {}, { progressToken: `p${id}` })));
      await Promise.all(running.map((call) => call.messages.next((message) => message.method === 'notifications/progress')));

      const begin = Date.now();
      started.child.kill('SIGTERM');
      // A call after the signal: answered (its session lives until the drain deadline), refused, or not
      // connected (the listener is closed); never a 5xx body with internals.
      await started.waitFor(/shutting down/);
      const late = await fetch(mcpUrl, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, ...session, 'X-Request-ID': 'sigterm-call-99' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'test_simple_text', arguments: {} } }),
      }).then(
        async (response) => ({ status: response.status, text: await response.text() }),
        () => ({ status: 0, text: '' }),
      );
      const outcomes = await Promise.all([stuck, ...running].map(async (call) => ({ ...call, all: await call.messages.rest() })));

      expect(await streamEnded).toBe('ended');
      expect(await started.exited).toBe(0);
      const elapsed = Date.now() - begin;
      // The stuck call kept the drain waiting to its deadline (4/5 of the 3 s timeout), not longer.
      expect(elapsed).toBeGreaterThanOrEqual(2_000);
      expect(elapsed).toBeLessThan(3_000 + 1_500);

      const resultOf = (call: (typeof outcomes)[number]) => call.all.find((message) => message.id === call.id);
      // The stuck call was dropped cleanly: no result, no 5xx, no internals.
      expect(resultOf(outcomes[0]!)?.result).toBeUndefined();
      for (const call of outcomes) expect(JSON.stringify(call.all)).not.toMatch(/\bat .+\.js:\d+/);
      // The calls that were about to finish were let finish.
      const answered = outcomes.slice(1).filter((call) => (resultOf(call)?.result as { content?: unknown } | undefined)?.content);
      expect(answered.map((call) => call.id)).toEqual([2, 3, 4]);
      expect([0, 200, 404, 503]).toContain(late.status);
      expect(late.text).not.toMatch(/\bat .+\.js:\d+/);
      if (late.text.includes('"result"')) answered.push({ ...outcomes[0]!, id: 99, requestId: 'sigterm-call-99' });

      const events = readFileSync(join(audit.dir, 'audit.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { type: string; context?: { requestId?: string; sessionId?: string } });
      const audited = new Set(events.filter((event) => event.type === 'tool.call').map((event) => event.context?.requestId));
      for (const call of answered) expect(audited).toContain(call.requestId);
      expect(events.some((event) => event.type === 'session.closed' && event.context?.sessionId === sessionId)).toBe(true);
    } finally {
      started.child.kill('SIGKILL');
      audit.remove();
    }
  });
});
