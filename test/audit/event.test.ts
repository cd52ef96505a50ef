import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { cleanAuditText, createAuditEvent } from '../../src/audit/event.js';
import { generateToken } from '../../src/credentials/generate-token.js';
import { MCP_POST_HEADERS, startTestServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { AUDIENCE, JWT_SECRET } from '../credentials/helpers.js';

// Every character that must never reach a parsed audit field as itself.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const HOSTILE = 'ad\u0000min\n{"forged":true}\u001b[2J\u009b31m\u2028\u202eevil';

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

describe('the text of an audit event', () => {
  it('replaces newline, ESC, C1, line separators and bidi overrides in every field, one for one', () => {
    const event = createAuditEvent({
      type: 'authz.denied',
      action: `tools/call ${HOSTILE}`,
      actor: { principalId: HOSTILE, role: HOSTILE, authMethod: HOSTILE, ip: '::1', userAgent: HOSTILE },
      outcome: { status: 'denied', code: HOSTILE },
      context: { tenant: HOSTILE, sessionId: HOSTILE, requestId: HOSTILE },
      details: { tool: HOSTILE, count: 3 },
    });
    for (const text of strings(event)) expect(text).not.toMatch(UNSAFE);
    expect(event.actor.principalId).toBe(cleanAuditText(HOSTILE));
    expect(event.actor.principalId).toHaveLength(HOSTILE.length);
    expect(cleanAuditText('ad\u0000min')).not.toBe('admin');
    expect(cleanAuditText('plain text: ünïcödé, 日本語, emoji 🙂')).toBe('plain text: ünïcödé, 日本語, emoji 🙂');
  });
});

describe('a server writing fields taken from the request', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_JWT_SECRET: JWT_SECRET, MCP_JWT_AUDIENCE: AUDIENCE });
  });
  afterAll(async () => {
    await server.stop();
  });

  const post = (headers: Record<string, string>, body: unknown) =>
    fetch(server.mcpUrl, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...headers }, body: JSON.stringify(body) });

  it('stores no control character from a method, a tool name, a JWT claim or the User-Agent', async () => {
    const admin = { Authorization: `Bearer ${TEST_TOKEN}` };
    const tool = await post(admin, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: `echo${HOSTILE}`, arguments: {} } });
    expect(tool.status).toBe(403);
    await tool.text();
    const method = await post(admin, { jsonrpc: '2.0', id: 2, method: `tools/\u001b[2Jcall\n`, params: {} });
    expect(method.status).toBe(403);
    await method.text();
    const { token } = generateToken({ secret: JWT_SECRET, subject: HOSTILE, role: 'viewer', tenant: 'acme\u001b]0;x\u0007', audience: AUDIENCE, ttlSec: 60 });
    const jwtCall = await post({ Authorization: `Bearer ${token}` }, { jsonrpc: '2.0', id: 3, method: 'tools/list' });
    await jwtCall.text();
    // Clients refuse such a header, so it goes out on a raw socket: Node's parser lets obs-text
    // (bytes 0x80-0xff) through and hands a C1 byte on as U+0080-U+009F.
    const url = new URL(server.mcpUrl);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        const head = `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: agent\x9b31mx\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`;
        socket.end(Buffer.from(head, 'latin1'));
      });
      socket.resume().once('end', resolve).once('error', reject);
    });

    const records = readFileSync(join(server.auditDir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; actor: Record<string, string> });
    expect(records.some((record) => record.type === 'authz.denied')).toBe(true);
    expect(records.some((record) => record.actor.principalId?.includes('min'))).toBe(true);
    expect(records.some((record) => record.actor.userAgent?.startsWith('agent'))).toBe(true);
    for (const record of records) for (const text of strings(record)) expect(text).not.toMatch(UNSAFE);
  });
});
