import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { INITIALIZE, MCP_POST_HEADERS, modernMeta, TEST_API_KEY, TEST_TOKEN } from '../helpers/server.js';
import { rawHttp, SECRETS, startHostileServer } from './helpers.js';

// CI runs a fixed seed and a few thousand cases; `npm run fuzz` sets FUZZ_RUNS
// (and a random seed unless FUZZ_SEED is given) for a longer search.
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() : Number(process.env.FUZZ_SEED ?? 20261125);

/** Header values Node will send: visible ASCII, space, tab and Latin-1; no CR, LF or NUL. */
const headerValue = fc.oneof(
  fc.string({
    unit: fc
      .integer({ min: 0x20, max: 0xff })
      .filter((c) => c !== 0x7f)
      .map((c) => String.fromCharCode(c)),
    maxLength: 300,
  }),
  fc.constantFrom('', ' ', 'Bearer', 'Bearer ', `Bearer ${TEST_TOKEN}`, TEST_API_KEY, 'null', '*', 'application/json'),
);
const credential = fc.oneof(
  fc.constant<Record<string, string>>({}),
  fc.constant({ Authorization: `Bearer ${TEST_TOKEN}` }),
  fc.constant({ 'X-API-Key': TEST_API_KEY }),
  headerValue.map((value) => ({ Authorization: value })),
  headerValue.map((value) => ({ Authorization: `Bearer ${value}` })),
  headerValue.map((value) => ({ 'X-API-Key': value })),
);
const extraHeaders = fc.dictionary(
  fc.constantFrom(
    'Mcp-Session-Id',
    'MCP-Protocol-Version',
    'Origin',
    'Content-Type',
    'Accept',
    'Last-Event-ID',
    'X-Request-ID',
    'Content-Encoding',
  ),
  headerValue,
  { maxKeys: 3 },
);

const method = fc.oneof(
  fc.constantFrom(
    'initialize',
    'ping',
    'tools/list',
    'tools/call',
    'prompts/get',
    'resources/read',
    'notifications/initialized',
    'logging/setLevel',
  ),
  fc.string({ maxLength: 40 }),
);
const message = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue()),
    id: fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.constant(null), fc.jsonValue()),
    method,
    params: fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record({ name: fc.constantFrom('echo', 'kv_get', 'kv_set', 'admin', '__proto__'), arguments: fc.jsonValue({ maxDepth: 4 }) }),
    ),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  message.map((m) => JSON.stringify(m)),
  fc.array(message, { maxLength: 120 }).map((batch) => JSON.stringify(batch)),
  fc.jsonValue({ maxDepth: 6 }).map((value) => JSON.stringify(value) ?? ''),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.constant(JSON.stringify(INITIALIZE)),
);

const segment = fc.oneof(
  fc.constantFrom('metrics', 'METRICS', 'Metrics', 'live', 'mcp', 'MCP', 'health', 'ready', 'session', 'oauth', 'token', '.well-known'),
  fc.constantFrom('', '.', '..', '%2e', '%2e%2e', '%2E%2E', '%2f', '%5c', '%00', '%6detrics', 'metrics.', 'metrics;x', '~', '\\'),
  fc.string({ unit: fc.constantFrom('a', 'm', '.', '%', '2', 'e', 'f', '/', ';', '?', '#', '~'), maxLength: 8 }),
);
const path = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => `/${parts.join('/')}`);

describe('fuzzing /mcp with headers and JSON-RPC bodies', () => {
  let hostile: Awaited<ReturnType<typeof startHostileServer>>;
  beforeAll(async () => {
    hostile = await startHostileServer({ MCP_SESSION_MODE: 'stateless' });
  });
  afterAll(async () => {
    await hostile.stop();
  });

  it(
    `never answers with a 5xx, a stack trace or a secret (${RUNS} runs, seed ${SEED})`,
    async () => {
      await fc.assert(
        fc.asyncProperty(credential, extraHeaders, body, fc.constantFrom('POST', 'GET', 'DELETE'), async (auth, extra, payload, verb) => {
          const response = await rawHttp(hostile.port, {
            method: verb,
            path: '/mcp',
            headers: { ...MCP_POST_HEADERS, ...auth, ...extra },
            ...(verb === 'POST' ? { body: payload } : {}),
          });
          expect(response.status).toBeLessThan(500);
          expect(response.body).not.toMatch(/\bat .+\.(js|ts):\d+|node_modules/);
          for (const secret of SECRETS) expect(response.body).not.toContain(secret);
          if (response.status >= 400 && response.body) expect(() => JSON.parse(response.body) as unknown).not.toThrow();
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
    },
    Math.max(20_000, RUNS * 25),
  );

  it(
    `never serves a protected route to a tricky path without credentials (${Math.ceil(RUNS / 2)} runs, seed ${SEED})`,
    async () => {
      await fc.assert(
        fc.asyncProperty(path, fc.constantFrom('GET', 'POST', 'DELETE', 'HEAD', 'OPTIONS'), async (target, verb) => {
          const response = await rawHttp(hostile.port, {
            method: verb,
            path: target,
            headers: MCP_POST_HEADERS,
            ...(verb === 'POST' ? { body: '{}' } : {}),
          });
          expect(response.status).toBeLessThan(500);
          expect(response.body).not.toContain('# HELP');
          expect(response.headers['mcp-session-id']).toBeUndefined();
          expect(response.headers['content-type'] ?? '').not.toContain('text/event-stream');
          expect(response.body).not.toMatch(/\bat .+\.(js|ts):\d+|node_modules/);
        }),
        { numRuns: Math.ceil(RUNS / 2), seed: SEED, endOnFailure: true },
      );
    },
    Math.max(20_000, RUNS * 25),
  );
});

/** What a 2026-07-28 client may put in a routing header: the truth, another tool, base64 forms, junk, nothing. */
const routingName = fc.oneof(
  fc.constantFrom(
    'echo',
    'list_sessions',
    'kv_set',
    'ECHO',
    ' echo',
    'echo ',
    '=?base64?ZWNobw==?=',
    '=?base64?bGlzdF9zZXNzaW9ucw==?=',
    '=?base64?!!?=',
  ),
  fc.string({ maxLength: 30 }).filter((value) => !/[\r\n\0]/.test(value)),
  fc.constant(undefined),
);

/** What a routing header names, as the specification reads it; `undefined` for a malformed base64 form. */
function claimedName(raw: string): string | undefined {
  const value = raw.replace(/^[\t ]+|[\t ]+$/g, '');
  if (!(value.startsWith('=?base64?') && value.endsWith('?='))) return value;
  const payload = value.slice(9, -2);
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(payload)
    ? Buffer.from(payload, 'base64').toString('utf8')
    : undefined;
}

describe('fuzzing the 2026-07-28 routing headers against the body', () => {
  let hostile: Awaited<ReturnType<typeof startHostileServer>>;
  beforeAll(async () => {
    hostile = await startHostileServer({
      MCP_SESSION_MODE: 'stateless',
      MCP_RATE_LIMIT_PRINCIPAL: '1000000',
      MCP_RATE_LIMIT_PRINCIPAL_BURST: '100000',
    });
  });
  afterAll(async () => {
    await hostile.stop();
  });
  const calls = (tool: string) =>
    readFileSync(join(hostile.server.auditDir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.includes('"type":"tool.call"') && line.includes(`"tool":"${tool}"`)).length;

  it(
    `never runs a tool the role lacks and answers a disagreeing header with 400 (${Math.ceil(RUNS / 4)} runs, seed ${SEED})`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('echo', 'list_sessions'),
          routingName,
          fc.constantFrom('tools/call', 'tools/list', 'TOOLS/CALL', undefined),
          async (tool, name, methodHeader) => {
            const body = JSON.stringify({
              jsonrpc: '2.0',
              id: 7,
              method: 'tools/call',
              params: { name: tool, arguments: { message: 'fuzz' }, _meta: modernMeta() },
            });
            const response = await rawHttp(hostile.port, {
              method: 'POST',
              path: '/mcp',
              headers: {
                ...MCP_POST_HEADERS,
                'X-API-Key': TEST_API_KEY, // operator: echo yes, list_sessions no
                'MCP-Protocol-Version': '2026-07-28',
                ...(methodHeader !== undefined ? { 'Mcp-Method': methodHeader } : {}),
                ...(name !== undefined ? { 'Mcp-Name': name } : {}),
              },
              body,
            });
            // The oracle: the header must name exactly the body's method and tool (base64 decoded, blanks trimmed).
            const claimed = name === undefined ? undefined : claimedName(name);
            const status = methodHeader !== 'tools/call' || claimed !== tool ? 400 : tool === 'echo' ? 200 : 403;
            expect({ tool, name, methodHeader, status: response.status }).toEqual({ tool, name, methodHeader, status });
          },
        ),
        { numRuns: Math.ceil(RUNS / 4), seed: SEED, endOnFailure: true },
      );
      expect(calls('list_sessions')).toBe(0);
      expect(calls('echo')).toBeGreaterThan(0);
    },
    Math.max(20_000, RUNS * 25),
  );
});
