import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  connectClient,
  connectModernClient,
  modernRequest,
  readRpc,
  startTestServer,
  TEST_TOKEN,
  type TestServer,
} from '../helpers/server.js';

const secret = (name: string) => `${name}-secret-0123456789abcdef0123456789abcdef`;
const KEYS = ['viewer', 'operator', 'monitor'].map((role) => `${role}:${role}:${secret(role)}`).join(',');

interface RpcError {
  id?: unknown;
  error?: { code: number; message: string; data?: Record<string, unknown> };
  result?: Record<string, unknown>;
}

type AuditLine = { type: string; context?: Record<string, string>; details?: Record<string, unknown> };
function auditEvents(server: TestServer): AuditLine[] {
  return readFileSync(join(server.auditDir, 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditLine);
}

describe('the 2026-07-28 wire through the full stack', () => {
  let server: TestServer;
  const send = (request: { headers: Record<string, string>; body: string }, credential: Record<string, string>) =>
    fetch(server.mcpUrl, { method: 'POST', headers: { ...request.headers, ...credential }, body: request.body });
  const viewer = { 'X-API-Key': secret('viewer') };
  const operator = { 'X-API-Key': secret('operator') };

  beforeAll(async () => {
    server = await startTestServer({ MCP_API_KEYS: KEYS, MCP_RATE_LIMIT: '10000' });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('serves the official v2 client on 2026-07-28 and the v1 client on 2025 from one endpoint', async () => {
    const modern = await connectModernClient(server.mcpUrl);
    try {
      expect(modern.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      expect((await modern.client.listTools()).tools.map((tool) => tool.name)).toContain('echo');
      const called = await modern.client.callTool({ name: 'echo', arguments: { message: 'modern' } });
      expect(called.content).toEqual([{ type: 'text', text: 'modern' }]);
    } finally {
      await modern.close();
    }
    const legacy = await connectClient(server.mcpUrl);
    try {
      const called = await legacy.client.callTool({ name: 'echo', arguments: { message: 'legacy' } });
      expect(called.content).toEqual([{ type: 'text', text: 'legacy' }]);
    } finally {
      await legacy.close();
    }
  });

  it('refuses both client generations the same way: no credential, and a tool the role lacks', async () => {
    await expect(connectModernClient(server.mcpUrl, {})).rejects.toThrow();
    await expect(connectClient(server.mcpUrl, {})).rejects.toThrow();
    const modern = await connectModernClient(server.mcpUrl, viewer);
    const legacy = await connectClient(server.mcpUrl, viewer);
    try {
      for (const client of [modern.client, legacy.client]) {
        const refused = await client.callTool({ name: 'kv_set', arguments: { key: 'k', value: 'v' } }).then(
          () => undefined,
          (error: unknown) => error as { code?: number; message?: string },
        );
        expect(refused?.message).toMatch(/kv:write/);
      }
    } finally {
      await modern.close();
      await legacy.close();
    }
  });

  it('answers a request without a credential with 401 and a challenge, before reading its body', async () => {
    const response = await send(modernRequest('tools/list'), {});
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    // A body over the 1 MiB limit would be a 413 if it were read before authentication.
    const huge = modernRequest('tools/call', { name: 'echo', arguments: { message: 'x'.repeat(2 * 1024 * 1024) } });
    expect((await send(huge, {})).status).toBe(401);
  });

  it('never lets a header smuggle a tool past authorization: a disagreeing Mcp-Name is a 400 and nothing runs', async () => {
    await send(modernRequest('tools/call', { name: 'kv_set', arguments: { key: 'smuggled', value: 'before' } }), operator);
    const before = auditEvents(server).filter((event) => event.type === 'tool.call').length;
    // The header names a tool the viewer may call; the body calls one it may not.
    const smuggled = modernRequest(
      'tools/call',
      { name: 'kv_set', arguments: { key: 'smuggled', value: 'after' } },
      { id: 41, headers: { 'Mcp-Name': 'echo' } },
    );
    const response = await send(smuggled, viewer);
    expect(response.status).toBe(400);
    const [body] = await readRpc<RpcError>(response);
    expect(body).toMatchObject({ id: 41, error: { code: -32020 } });
    // Also base64-encoded, and with the method header lying instead.
    const encoded = await send(
      modernRequest(
        'tools/call',
        { name: 'kv_set', arguments: { key: 'k', value: 'v' } },
        { headers: { 'Mcp-Name': '=?base64?ZWNobw==?=' } },
      ),
      viewer,
    );
    expect(encoded.status).toBe(400);
    const method = await send(
      modernRequest('tools/call', { name: 'kv_set', arguments: { key: 'k', value: 'v' } }, { headers: { 'Mcp-Method': 'tools/list' } }),
      viewer,
    );
    expect([method.status, (await readRpc<RpcError>(method))[0]!.error!.code]).toEqual([400, -32020]);
    const read = await send(modernRequest('tools/call', { name: 'kv_get', arguments: { key: 'smuggled' } }), operator);
    expect(JSON.stringify(await readRpc(read))).toContain('before');
    expect(auditEvents(server).filter((event) => event.type === 'tool.call')).toHaveLength(before + 1);
  });

  it('refuses from the routing headers with 403 carrying the request id, when the body agrees with them', async () => {
    const response = await send(
      modernRequest('tools/call', { name: 'kv_set', arguments: { key: 'k', value: 'v' } }, { id: 'r-7' }),
      viewer,
    );
    expect(response.status).toBe(403);
    const [body] = await readRpc<RpcError>(response);
    expect(body).toMatchObject({ id: 'r-7', error: { data: { code: 'insufficient_scope', scope: 'kv:write' } } });
    expect(response.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
    const denied = auditEvents(server)
      .filter((event) => event.type === 'authz.denied')
      .at(-1);
    expect(denied?.context).toMatchObject({ mcpMethod: 'tools/call', mcpName: 'kv_set' });
  });

  it('answers protocol errors with the protocol’s own status and code, not a 403', async () => {
    const cases: Array<[string, { headers: Record<string, string>; body: string }, number, number]> = [
      ['missing Mcp-Method', modernRequest('tools/list', {}, { headers: { 'Mcp-Method': undefined } }), 400, -32020],
      [
        'unsupported version',
        modernRequest(
          'tools/list',
          { _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } },
          { headers: { 'MCP-Protocol-Version': '2099-01-01' } },
        ),
        400,
        -32022,
      ],
      ['removed method ping', modernRequest('ping'), 404, -32601],
      ['removed method resources/subscribe', modernRequest('resources/subscribe', { uri: 'test://x' }), 404, -32601],
      ['unknown method', modernRequest('admin/shutdown'), 404, -32601],
    ];
    for (const [label, request, status, code] of cases) {
      const response = await send(request, viewer);
      const [body] = await readRpc<RpcError>(response);
      expect({ label, status: response.status, code: body?.error?.code, id: body?.id }).toEqual({ label, status, code, id: 1 });
    }
    const unsupported = await send(
      modernRequest(
        'tools/list',
        { _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } },
        { headers: { 'MCP-Protocol-Version': '2099-01-01' } },
      ),
      viewer,
    );
    expect((await readRpc<RpcError>(unsupported))[0]!.error!.data).toMatchObject({ supported: ['2026-07-28'], requested: '2099-01-01' });
  });

  it('never quotes a header or envelope value back in a protocol error', async () => {
    const marker = 'quoted-secret-0123456789abcdef';
    const legacy = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { ...modernRequest('tools/list').headers, ...viewer, 'MCP-Protocol-Version': `Bearer ${marker}` },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    });
    expect(legacy.status).toBe(400);
    expect(await legacy.text()).not.toContain(marker);
    const envelope = await send(
      modernRequest(
        'tools/list',
        { _meta: { 'io.modelcontextprotocol/protocolVersion': `v ${marker}` } },
        { headers: { 'MCP-Protocol-Version': `v ${marker}` } },
      ),
      viewer,
    );
    expect(envelope.status).toBe(400);
    expect(await envelope.text()).not.toContain(marker);
  });

  it('lets any principal with an MCP permission discover the server, and no other', async () => {
    const discover = await send(modernRequest('server/discover'), viewer);
    expect(discover.status).toBe(200);
    expect((await readRpc<RpcError>(discover))[0]!.result).toHaveProperty('supportedVersions');
    const monitor = await send(modernRequest('server/discover'), { 'X-API-Key': secret('monitor') });
    expect(monitor.status).toBe(403);
  });

  it('never marks a list filtered for a principal as publicly cacheable', async () => {
    const lists = await Promise.all(
      [viewer, operator, { Authorization: `Bearer ${TEST_TOKEN}` }].map(async (credential) => {
        const [body] = await readRpc<RpcError>(await send(modernRequest('tools/list'), credential));
        return body!.result as { tools: Array<{ name: string }>; cacheScope: string; ttlMs: number };
      }),
    );
    expect(new Set(lists.map((list) => list.tools.length)).size).toBe(3);
    for (const list of lists) expect(list.cacheScope).toBe('private');
  });

  it('records the method, the tool and the W3C trace context of a call in its audit event', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const request = modernRequest('tools/call', { name: 'echo', arguments: { message: 'traced' }, _meta: { traceparent } });
    expect((await send(request, viewer)).status).toBe(200);
    const call = auditEvents(server)
      .filter((event) => event.type === 'tool.call')
      .at(-1);
    expect(call?.context).toMatchObject({ mcpMethod: 'tools/call', mcpName: 'echo', traceparent });
    expect(call?.details).toMatchObject({ era: 'modern' });
  });

  it('allows the routing headers and a declared Mcp-Param header in a CORS preflight', async () => {
    const app = await startTestServer({ MCP_CORS_ORIGINS: 'https://app.example' });
    try {
      const response = await fetch(app.mcpUrl, {
        method: 'OPTIONS',
        headers: {
          Origin: 'https://app.example',
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization, mcp-method, mcp-name, mcp-param-region, content-type',
        },
      });
      expect(response.status).toBe(204);
      const allowed = (response.headers.get('access-control-allow-headers') ?? '').toLowerCase();
      for (const header of ['mcp-method', 'mcp-name', 'mcp-param-region', 'mcp-protocol-version']) expect(allowed).toContain(header);
    } finally {
      await app.stop();
    }
  });
});
