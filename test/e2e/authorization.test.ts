import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  INITIALIZE,
  MCP_POST_HEADERS,
  connectClient,
  openSessionToken,
  readRpc,
  startTestServer,
  type TestServer,
} from '../helpers/server.js';

const secret = (name: string) => `${name}-secret-0123456789abcdef0123456789abcdef`;

/** The expected matrix, written out by hand: role -> tools it may see and call. */
const MATRIX: Record<string, string[]> = {
  admin: ['echo', 'time', 'kv_get', 'kv_list', 'kv_set', 'kv_delete', 'list_sessions'],
  operator: ['echo', 'time', 'kv_get', 'kv_list', 'kv_set', 'kv_delete'],
  viewer: ['echo', 'time', 'kv_get', 'kv_list'],
  monitor: [],
};
const ALL_TOOLS = MATRIX.admin!;
const ARGS: Record<string, Record<string, unknown>> = {
  echo: { message: 'hi' },
  time: {},
  kv_get: { key: 'matrix' },
  kv_list: {},
  kv_set: { key: 'matrix', value: 'v' },
  kv_delete: { key: 'matrix' },
  list_sessions: {},
};

const keys = Object.keys(MATRIX).map((role) => `${role}:${role}:${secret(role)}`);
keys.push(`acme-writer:operator:${secret('acme')};tenant=acme`);
keys.push(`globex-writer:operator:${secret('globex')};tenant=globex`);
keys.push(`office-only:operator:${secret('office')};cidrs=10.9.0.0/16`);
keys.push(`loopback-only:operator:${secret('loopback')};cidrs=127.0.0.0/8|::1`);

function post(server: TestServer, key: string, body: unknown) {
  return fetch(server.mcpUrl, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, 'X-API-Key': key },
    body: JSON.stringify(body),
  });
}

describe('authorization over real HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_API_KEYS: keys.join(','), MCP_SESSION_MODE: 'stateless', MCP_RATE_LIMIT: '10000' });
  });
  afterAll(async () => {
    await server.stop();
  });

  describe.each(Object.keys(MATRIX))('the %s role', (role) => {
    it('lists exactly the tools it may use and can call each of them, and no other', async () => {
      // A role without any MCP permission cannot even open a connection.
      if (MATRIX[role]!.length === 0) await expect(connectClient(server.mcpUrl, { 'X-API-Key': secret(role) })).rejects.toThrow();
      const { client, close } =
        MATRIX[role]!.length === 0
          ? { client: undefined, close: async () => undefined }
          : await connectClient(server.mcpUrl, { 'X-API-Key': secret(role) });
      try {
        if (client) {
          const listed = (await client.listTools()).tools.map((tool) => tool.name).sort();
          expect(listed).toEqual([...MATRIX[role]!].sort());
        }
        for (const tool of ALL_TOOLS) {
          const response = await post(server, secret(role), {
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/call',
            params: { name: tool, arguments: ARGS[tool] },
          });
          const [body] = await readRpc<{ result?: unknown; error?: { data?: { code?: string } } }>(response);
          if (MATRIX[role]!.includes(tool)) {
            expect({ tool, status: response.status }).toEqual({ tool, status: 200 });
            expect(body!.result).toBeDefined();
          } else {
            expect({ tool, status: response.status }).toEqual({ tool, status: 403 });
            expect(body!.error?.data?.code).toBe('insufficient_scope');
            expect(response.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="/);
          }
        }
      } finally {
        await close();
      }
    });
  });

  it('refuses a tool nobody declared, even for admin', async () => {
    const response = await post(server, secret('admin'), {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'rm_rf', arguments: {} },
    });
    expect(response.status).toBe(403);
  });

  it('answers a batch mixing allowed and forbidden calls with one error per request and runs none of them', async () => {
    const response = await post(server, secret('viewer'), [
      { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } },
      { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'kv_set', arguments: { key: 'batch', value: 'x' } } },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'zzz' } },
      { jsonrpc: '2.0', id: 'c', method: 'tools/call', params: { name: 'list_sessions', arguments: {} } },
    ]);
    expect(response.status).toBe(403);
    const body = (await response.json()) as Array<{ id: string; error: { data: { code: string; scope?: string } } }>;
    expect(body.map((item) => [item.id, item.error.data.code, item.error.data.scope])).toEqual([
      ['a', 'forbidden', undefined],
      ['b', 'insufficient_scope', 'kv:write'],
      ['c', 'insufficient_scope', 'sessions:manage'],
    ]);
    expect(response.headers.get('www-authenticate')).toContain('scope="kv:write sessions:manage"');
    const read = await post(server, secret('viewer'), {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'kv_get', arguments: { key: 'batch' } },
    });
    const [readBody] = await readRpc<{ result: { isError?: boolean } }>(read);
    expect(readBody!.result.isError).toBe(true);
  });

  it('records each refused message as an audit event naming principal, tool and missing permission', async () => {
    const refused = await post(server, secret('viewer'), {
      jsonrpc: '2.0',
      id: 5,
      method: 'tools/call',
      params: { name: 'list_sessions', arguments: {} },
    });
    expect(refused.status).toBe(403);
    await refused.text();
    const events = readFileSync(join(server.auditDir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; actor: { principalId?: string }; details?: Record<string, string> });
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'authz.denied',
        actor: expect.objectContaining({ principalId: 'key:viewer' }),
        details: { missingPermission: 'sessions:manage', tool: 'list_sessions' },
      }),
    );
  });

  it('keeps each tenant to its own data, even when it guesses the names', async () => {
    const acme = await connectClient(server.mcpUrl, { 'X-API-Key': secret('acme') });
    const globex = await connectClient(server.mcpUrl, { 'X-API-Key': secret('globex') });
    try {
      await acme.client.callTool({ name: 'kv_set', arguments: { key: 'plans/q3', value: 'acme secret plan' } });
      const guessed = await globex.client.callTool({ name: 'kv_get', arguments: { key: 'plans/q3' } });
      expect(guessed.isError).toBe(true);
      expect(JSON.stringify(guessed.content)).not.toContain('acme secret plan');
      const listed = await globex.client.callTool({ name: 'kv_list', arguments: {} });
      expect(JSON.stringify(listed.content)).not.toContain('plans/q3');
      const traversal = await globex.client.callTool({ name: 'kv_get', arguments: { key: '../acme/plans/q3' } });
      expect(JSON.stringify(traversal.content)).not.toContain('acme secret plan');
      const own = await acme.client.callTool({ name: 'kv_get', arguments: { key: 'plans/q3' } });
      expect(own.content).toEqual([{ type: 'text', text: 'acme secret plan' }]);
    } finally {
      await acme.close();
      await globex.close();
    }
  });

  it('refuses a key restricted to other addresses with 403, and accepts one restricted to loopback', async () => {
    const office = await post(server, secret('office'), INITIALIZE);
    expect(office.status).toBe(403);
    expect(await office.text()).not.toContain('10.9.0.0');
    const loopback = await post(server, secret('loopback'), INITIALIZE);
    expect(loopback.status).toBe(200);
  });
});

describe('revocation', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_AUTH_TOKEN: '' }); // development mode: session tokens
  });
  afterAll(async () => {
    await server.stop();
  });

  it('closes the MCP sessions and SSE streams of a principal whose credential dies', async () => {
    const tokenStream = await openSessionToken(server.url);
    const { token } = tokenStream;

    const auth = { Authorization: `Bearer ${token}`, 'MCP-Protocol-Version': '2025-06-18' };
    const init = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, ...auth },
      body: JSON.stringify(INITIALIZE),
    });
    const sessionId = init.headers.get('mcp-session-id')!;
    await init.text();
    const initialized = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, ...auth, 'Mcp-Session-Id': sessionId },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    expect(initialized.status).toBe(202);
    // A standalone GET SSE stream on the session, as clients open for server notifications.
    const stream = await fetch(server.mcpUrl, { headers: { Accept: 'text/event-stream', ...auth, 'Mcp-Session-Id': sessionId } });
    expect(stream.status).toBe(200);
    const ended = stream.text().then(
      () => 'ended',
      () => 'ended',
    );

    tokenStream.close(); // the token dies with its stream
    await expect(ended).resolves.toBe('ended');
    const after = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${token}`, 'Mcp-Session-Id': sessionId },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(after.status).toBe(401);
  });
});
