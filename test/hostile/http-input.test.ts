import jwt from 'jsonwebtoken';
import { INITIALIZE, MCP_POST_HEADERS, TEST_TOKEN } from '../helpers/server.js';
import { expectSafeRefusal, HOSTILE_AUDIENCE, HOSTILE_JWT_SECRET, rawHttp, startHostileServer } from './helpers.js';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const claims = () => ({ sub: 'mallory', role: 'admin', aud: HOSTILE_AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 });
const AUTH = { Authorization: `Bearer ${TEST_TOKEN}` };

describe('hostile input over HTTP against a running server', () => {
  let hostile: Awaited<ReturnType<typeof startHostileServer>>;
  let sessionId: string;
  beforeAll(async () => {
    hostile = await startHostileServer();
    const response = await fetch(hostile.server.mcpUrl, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, ...AUTH },
      body: JSON.stringify(INITIALIZE),
    });
    sessionId = response.headers.get('mcp-session-id')!;
    await response.text();
  });
  afterAll(async () => {
    await hostile.stop();
  });

  const post = (headers: Record<string, string>, body: string | Buffer = JSON.stringify(INITIALIZE)) =>
    rawHttp(hostile.port, { method: 'POST', path: '/mcp', headers: { ...MCP_POST_HEADERS, ...headers }, body });

  describe('credentials', () => {
    const cases: Array<[string, () => Record<string, string>]> = [
      ['an empty Authorization header', () => ({ Authorization: '' })],
      ['the word Bearer alone', () => ({ Authorization: 'Bearer' })],
      ['Bearer with only spaces', () => ({ Authorization: 'Bearer      ' })],
      ['a bearer token with spaces inside', () => ({ Authorization: `Bearer ${TEST_TOKEN.slice(0, 10)} ${TEST_TOKEN.slice(10)}` })],
      ['an unknown scheme', () => ({ Authorization: `Token ${TEST_TOKEN}x` })],
      ['a 12 KB bearer token', () => ({ Authorization: `Bearer ${'a'.repeat(12_000)}` })],
      ['a bearer token of Latin-1 bytes', () => ({ Authorization: `Bearer ${'\u00ff\u00e9'.repeat(20)}` })],
      ['the right token with one byte changed', () => ({ Authorization: `Bearer ${TEST_TOKEN.slice(0, -1)}X` })],
      ['a prefix of the right token', () => ({ Authorization: `Bearer ${TEST_TOKEN.slice(0, 31)}` })],
      ['the right token twice', () => ({ Authorization: `Bearer ${TEST_TOKEN}${TEST_TOKEN}` })],
      ['an empty X-API-Key', () => ({ 'X-API-Key': '' })],
      ['a 12 KB X-API-Key', () => ({ 'X-API-Key': 'k'.repeat(12_000) })],
      ['an X-API-Key of control-free garbage', () => ({ 'X-API-Key': '"><script>alert(1)</script>' })],
      ['a JWT with alg none', () => ({ Authorization: `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.` })],
      ['a JWT with alg NONE and a signature', () => ({ Authorization: `Bearer ${b64({ alg: 'NONE' })}.${b64(claims())}.AAAA` })],
      [
        'a JWT signed HS256 with the RSA public key',
        () => ({ Authorization: `Bearer ${jwt.sign(claims(), hostile.publicPem, { algorithm: 'HS256' })}` }),
      ],
      [
        'a JWT with a forged signature',
        () => {
          const [header, payload] = jwt.sign(claims(), HOSTILE_JWT_SECRET, { algorithm: 'HS256' }).split('.');
          return { Authorization: `Bearer ${header}.${payload}.${b64('forged-signature-of-32-bytes!!!!')}` };
        },
      ],
      [
        'a JWT signed with another secret',
        () => ({ Authorization: `Bearer ${jwt.sign(claims(), 'x'.repeat(40), { algorithm: 'HS256' })}` }),
      ],
      [
        'a JWT with a 10 KB header',
        () => ({ Authorization: `Bearer ${b64({ alg: 'HS256', x: 'y'.repeat(7000) })}.${b64(claims())}.AAAA` }),
      ],
      ['a JWT whose parts are not base64', () => ({ Authorization: 'Bearer !!!.???.***' })],
      ['a JWT with a header that is not JSON', () => ({ Authorization: `Bearer ${b64('{"alg":')}.${b64(claims())}.AAAA` })],
    ];

    it.each(cases)('refuses %s with 401 and a JSON-RPC error', async (_name, headers) => {
      const response = await post(headers());
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });

    it('refuses a header larger than Node accepts with 431 and no body', async () => {
      const response = await post({ Authorization: `Bearer ${'a'.repeat(20_000)}` });
      expect(response.status).toBe(431);
      expectSafeRefusal(response.status, response.body);
    });
  });

  describe('bodies', () => {
    it('refuses a body over the limit with 413', async () => {
      const response = await post(AUTH, `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"${'a'.repeat(1_100_000)}"}}`);
      expect(response.status).toBe(413);
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });

    it('answers a deeply nested array without a crash', async () => {
      const response = await post(AUTH, `${'['.repeat(200_000)}${']'.repeat(200_000)}`);
      expect(response.status).toBe(400);
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });

    it('answers deeply nested tool arguments without a crash', async () => {
      const nested = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
      const body = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":${nested}}}}`;
      const response = await post({ ...AUTH, 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-06-18' }, body);
      expect(response.status).toBe(200);
      expect(response.body).not.toMatch(/Maximum call stack|RangeError/);
      // The tool refuses the arguments in its result, as MCP tool errors go.
      expect(response.body).toMatch(/"isError":true|"error":\{/);
    });

    it('refuses a batch of five thousand messages with 400', async () => {
      const batch = Array.from({ length: 5000 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'ping' }));
      const response = await post(AUTH, JSON.stringify(batch));
      expect(response.status).toBe(400);
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });

    it('refuses a batch of five thousand messages without credentials with 400 or 401', async () => {
      const batch = Array.from({ length: 5000 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo' } }));
      const response = await post({}, JSON.stringify(batch));
      expect([400, 401]).toContain(response.status);
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });

    it('refuses invalid UTF-8 outside strings as a parse error', async () => {
      const response = await post(AUTH, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
      expect(response.status).toBe(400);
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });

    it('treats invalid UTF-8 inside a string as replacement characters, not a crash', async () => {
      const body = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
      const response = await post({ ...AUTH, 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-06-18' }, body);
      // The mangled method is not one the policy declares.
      expect(response.status).toBe(403);
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });

    it.each([
      ['a JSON string', '"hello"'],
      ['a number', '42'],
      ['null', 'null'],
      ['an empty body', ''],
      ['an array of numbers', '[1,2,3]'],
      ['an empty batch', '[]'],
      ['a prototype-polluting object', '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}'],
    ])('refuses %s as a JSON-RPC body with 400', async (_name, body) => {
      const response = await post(AUTH, body);
      expect(response.status).toBe(400);
      expectSafeRefusal(response.status, response.body, { rpc: true });
      expect(({} as Record<string, unknown>).admin).toBeUndefined();
    });

    it.each(['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf'])(
      'refuses the JSON-RPC method %s as undeclared with 403, not a 503',
      async (method) => {
        const response = await post(
          { ...AUTH, 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-06-18' },
          JSON.stringify({ jsonrpc: '2.0', id: 3, method }),
        );
        expect(response.status).toBe(403);
        expectSafeRefusal(response.status, response.body, { rpc: true });
        expect(JSON.parse(response.body)).toMatchObject({ id: 3, error: { data: { code: 'forbidden' } } });
      },
    );

    it('answers a refused batch of notifications with one JSON-RPC error, never an empty array', async () => {
      const batch = [
        { jsonrpc: '2.0', method: 'x' },
        { jsonrpc: '2.0', method: 'toString' },
      ];
      const response = await post({ ...AUTH, 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-06-18' }, JSON.stringify(batch));
      expect(response.status).toBe(403);
      expectSafeRefusal(response.status, response.body, { rpc: true });
      expect(JSON.parse(response.body)).toMatchObject({ id: null, error: { data: { code: 'forbidden' } } });
    });

    it.each([
      ['text/plain', 'text/plain'],
      ['form encoding', 'application/x-www-form-urlencoded'],
      ['multipart', 'multipart/form-data; boundary=x'],
      ['JSON in Latin-1', 'application/json; charset=latin1'],
      ['a garbage media type', ';;;/'],
    ])('refuses the content type %s with 415', async (_name, type) => {
      const response = await post({ ...AUTH, 'Content-Type': type });
      expect(response.status).toBe(415);
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });

    it('refuses an unsupported content encoding with 415', async () => {
      const response = await post({ ...AUTH, 'Content-Encoding': 'x-evil' });
      expect(response.status).toBe(415);
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });
  });

  describe('headers', () => {
    it('does not echo a malformed request id', async () => {
      const response = await rawHttp(hostile.port, { path: '/health', headers: { 'X-Request-ID': '<script>x</script>' } });
      expect(response.status).toBe(200);
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it.each([
      ['an 8 KB value', 'x'.repeat(8_000)],
      ['a path', '../../etc/passwd'],
      ['Latin-1 bytes', '\u00ff\u00fe\u00fd'],
      ['a comma-separated pair', `${'a'.repeat(10)}, ${'b'.repeat(10)}`],
      ['a plausible UUID', '00000000-0000-0000-0000-000000000000'],
    ])('answers an Mcp-Session-Id of %s with 400 or 404', async (_name, value) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      const response = await post({ ...AUTH, 'Mcp-Session-Id': value, 'MCP-Protocol-Version': '2025-06-18' }, body);
      expect([400, 404]).toContain(response.status);
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });

    it('does not let an Mcp-Session-Id stand in for a credential', async () => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      const response = await post({ 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-06-18' }, body);
      expect(response.status).toBe(401);
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });

    it.each([
      ['no credential', {}],
      ['an invalid token', { Authorization: 'Bearer not-the-token-0123456789abcdef0123456789' }],
      ['an invalid API key', { 'X-API-Key': 'not-the-key-0123456789abcdef0123456789' }],
    ])('refuses a foreign Origin with 403 before looking at credentials (%s)', async (_name, credential) => {
      const response = await post({ ...credential, Origin: 'https://evil.example' });
      expect(response.status).toBe(403); // 401 had authentication come first
      expect(response.headers['www-authenticate']).toBeUndefined();
      expect(JSON.parse(response.body)).toMatchObject({ error: { data: { code: 'origin_not_allowed' } } });
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });

    it('refuses the Origin null with 403, before authentication', async () => {
      const response = await post({ Origin: 'null' });
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body)).toMatchObject({ error: { data: { code: 'origin_not_allowed' } } });
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });

    it('refuses an unsupported MCP-Protocol-Version with 400', async () => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      const response = await post({ ...AUTH, 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '1999-01-01' }, body);
      expect(response.status).toBe(400);
      expectSafeRefusal(response.status, response.body, { rpc: true });
    });
  });

  describe('path tricks aimed at /metrics without credentials', () => {
    const paths = [
      '/metrics',
      '/mcp/../metrics',
      '/mcp/%2e%2e/metrics',
      '/%2e%2e/metrics',
      '/mcp%2f..%2fmetrics',
      '/metrics.',
      '/metrics%2e',
      '/METRICS',
      '/Metrics/Live',
      '/metrics/',
      '//metrics',
      '/%6detrics',
      '/%6Detrics/live',
      '/metrics;a=b',
      '/metrics%00',
      '/metrics%20',
      '/health/../metrics',
      '/./metrics',
      '/metrics?x=/health',
      '/health%2f..%2fmetrics',
    ];
    it.each(paths)('GET %s is refused or unknown, never the metrics', async (path) => {
      const response = await rawHttp(hostile.port, { path });
      expect([400, 401, 404]).toContain(response.status);
      expect(response.body).not.toContain('# HELP');
      expectSafeRefusal(response.status, response.body);
    });

    it.each(['/Mcp', '/MCP', '/mcp/', '//mcp', '/%6dcp', '/mcp.', '/mcp%2f', '/mcp/../mcp'])(
      'POST %s without credentials never reaches the MCP server',
      async (path) => {
        const response = await rawHttp(hostile.port, { method: 'POST', path, headers: MCP_POST_HEADERS, body: JSON.stringify(INITIALIZE) });
        expect([400, 401, 404]).toContain(response.status);
        expect(response.headers['mcp-session-id']).toBeUndefined();
        expectSafeRefusal(response.status, response.body, { rpc: response.status !== 404 || response.body.includes('jsonrpc') });
      },
    );

    it.each(['/metrics', '/mcp', '/session'])('an absolute-form request target %s cannot reach a protected route', async (path) => {
      const response = await rawHttp(hostile.port, { path: `http://127.0.0.1:${hostile.port}${path}` });
      expect([400, 401, 404, 405, 406]).toContain(response.status);
      expect(response.body).not.toContain('# HELP');
    });
  });
});
