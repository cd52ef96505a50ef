import { INITIALIZE, MCP_POST_HEADERS, startTestServer, type TestServer } from '../helpers/server.js';

const secret = (name: string) => `${name}-secret-0123456789abcdef0123456789abcdef`;
const KEYS = ['alice:viewer', 'bob:viewer', 'carol:viewer', 'metrics:monitor']
  .map((entry) => `${entry}:${secret(entry.split(':')[0]!)}`)
  .join(',');

describe('the pool of 2025 sessions', () => {
  let server: TestServer;
  const streams: AbortController[] = [];
  beforeEach(async () => {
    server = await startTestServer({
      MCP_API_KEYS: KEYS,
      MCP_MAX_SESSIONS: '3',
      MCP_MAX_SESSIONS_PER_PRINCIPAL: '2',
      MCP_RATE_LIMIT: '10000',
    });
  });
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.abort();
    await server.stop();
  });

  const initialize = (who: string) =>
    fetch(server.mcpUrl, { method: 'POST', headers: { ...MCP_POST_HEADERS, 'X-API-Key': secret(who) }, body: JSON.stringify(INITIALIZE) });
  async function open(who: string): Promise<string> {
    const response = await initialize(who);
    expect(response.status).toBe(200);
    await response.text();
    const id = response.headers.get('mcp-session-id')!;
    const initialized = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, 'X-API-Key': secret(who), 'Mcp-Session-Id': id, 'MCP-Protocol-Version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    expect(initialized.status).toBe(202);
    return id;
  }
  /** Opens the session's SSE GET stream and keeps it open: the session is active while it is. */
  async function stream(who: string, id: string): Promise<AbortController> {
    const controller = new AbortController();
    const response = await fetch(server.mcpUrl, {
      headers: { Accept: 'text/event-stream', 'X-API-Key': secret(who), 'Mcp-Session-Id': id, 'MCP-Protocol-Version': '2025-06-18' },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    streams.push(controller);
    return controller;
  }
  const alive = async (who: string, id: string) =>
    (
      await fetch(server.mcpUrl, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, 'X-API-Key': secret(who), 'Mcp-Session-Id': id, 'MCP-Protocol-Version': '2025-06-18' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
      })
    ).status === 200;
  /** Resolves once the server holds `count` sessions (closing one is asynchronous). */
  const sessions = async (count: number) => {
    while (server.running.guard.endpoint.sessionCount() !== count) await new Promise((resolve) => setImmediate(resolve));
  };

  it('admits no principal without an MCP permission', async () => {
    const response = await initialize('metrics');
    expect(response.status).toBe(403);
    expect(server.running.guard.endpoint.sessionCount()).toBe(0);
  });

  it('caps one principal: past its cap its own idle session goes, and with none idle it gets 429', async () => {
    const first = await open('alice');
    const second = await open('alice');
    await stream('alice', second);
    // At its cap, alice's own idle session makes room.
    const third = await open('alice');
    expect(await alive('alice', first)).toBe(false);
    expect(await alive('alice', second)).toBe(true);
    await stream('alice', third);
    // With both sessions streaming, nothing of alice's may go, and nobody else's is touched.
    const refused = await initialize('alice');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    await sessions(2);
  });

  it('never evicts another principal’s active session to admit a new one', async () => {
    const bobs = await open('bob');
    await stream('bob', bobs);
    const alices = [await open('alice'), await open('alice')];
    await Promise.all(alices.map((id) => stream('alice', id)));
    // The pool (3) is full of active sessions: carol is refused, every session stays.
    const refused = await initialize('carol');
    expect(refused.status).toBe(503);
    expect(await alive('bob', bobs)).toBe(true);
    // Once one of alice's sessions is idle, carol takes its place; bob's is never the one to go.
    streams[1]!.abort();
    const idle = () =>
      server.running.guard.endpoint.listSessions().some((entry) => entry.principalId === 'key:alice' && entry.openRequests === 0);
    while (!idle()) await new Promise((resolve) => setImmediate(resolve));
    await open('carol');
    expect(await alive('bob', bobs)).toBe(true);
    expect(await alive('alice', alices[0]!)).toBe(false);
  });
});
