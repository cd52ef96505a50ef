// `npm run bench`: the cost of mcp-guard, measured as ratios against the same MCP server with no
// security, in one run on one machine. Every scenario runs interleaved with its baseline
// (A B A B ...) for BENCH_ROUNDS rounds of BENCH_DURATION seconds; the table reports medians.
// Writes the table to stdout and to docs/benchmarks.md (BENCH_WRITE=0 to skip the file).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, median, rpc, startProcess } from './lib.mjs';
import { extraScenarios } from './scenarios.mjs';

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ONLY = process.env.BENCH_ONLY?.split(',');

const TOKEN = randomBytes(32).toString('base64url');
const API_KEY = randomBytes(32).toString('base64url');
const auditDir = mkdtempSync(join(tmpdir(), 'mcp-guard-bench-audit-'));

const CALL = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hello' } } });
const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
};
const INITIALIZE = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
};

/** The guard's environment: the full stack, stateless JSON mode, limits high enough not to refuse the load. */
const GUARD_ENV = {
  MCP_PORT: '0',
  MCP_AUTH_TOKEN: TOKEN,
  MCP_API_KEYS: `bench:operator:${API_KEY}`,
  MCP_SESSION_MODE: 'stateless',
  MCP_JSON_RESPONSE: 'true',
  // Every limit on, each high enough never to refuse the load: their cost is measured, not their refusals.
  MCP_RATE_LIMIT: '1000000',
  MCP_RATE_LIMIT_PRINCIPAL: '10000000',
  MCP_RATE_LIMIT_PRINCIPAL_BURST: '1000000',
  MCP_RATE_LIMIT_TOOL: '10000000',
  MCP_RATE_LIMIT_TOOL_BURST: '1000000',
  MCP_RATE_LIMIT_GLOBAL: '100000000',
  MCP_RATE_LIMIT_GLOBAL_BURST: '10000000',
  MCP_AUDIT_ENABLED: 'false',
  MCP_LOG_LEVEL: 'info', // the "listening" line; no per-request lines at this level
};

/** Baselines and scenarios. A scenario names its baseline; `env` is added to GUARD_ENV. */
const servers = {
  'bare-http': { script: 'bench/servers/bare-http.mjs' },
  sdk: { script: 'bench/servers/bare-sdk.mjs' },
  'sdk-stateful': { script: 'bench/servers/bare-sdk.mjs', env: { BENCH_MODE: 'stateful' }, session: true },
};
const scenarios = [
  { id: 'bare-http', label: '(1) node:http, small JSON (ceiling)', server: 'bare-http', baseline: 'sdk' },
  { id: 'bearer', label: '(3) full stack, static bearer token', env: {}, headers: { authorization: `Bearer ${TOKEN}` } },
  { id: 'api-key', label: '(4) full stack, API key', env: {}, headers: { 'x-api-key': API_KEY } },
  ...extraScenarios({ GUARD_ENV, auditDir }),
  {
    id: 'audit',
    label: '(8) full stack, bearer, durable audit',
    env: { MCP_AUDIT_ENABLED: 'true', MCP_AUDIT_DIR: auditDir },
    headers: { authorization: `Bearer ${TOKEN}` },
  },
  {
    id: 'stateful',
    label: 'stateful: one session reused, bearer',
    env: { MCP_SESSION_MODE: 'stateful' },
    headers: { authorization: `Bearer ${TOKEN}` },
    baseline: 'sdk-stateful',
    session: true,
  },
].filter((scenario) => !ONLY || ONLY.includes(scenario.id));

async function start(definition) {
  if (definition.script) return startProcess(definition.script, definition.env ?? {});
  return startProcess('dist/main.js', { ...GUARD_ENV, ...definition.env });
}

/** Opens a session when the server is stateful; returns the headers every request then carries. */
async function headersFor(running, extra, session) {
  const headers = { ...MCP_HEADERS, ...extra };
  if (!session) return headers;
  const response = await rpc(running.url, headers, INITIALIZE);
  const id = response.headers.get('mcp-session-id');
  await rpc(running.url, { ...headers, 'mcp-session-id': id }, { jsonrpc: '2.0', method: 'notifications/initialized' });
  return { ...headers, 'mcp-session-id': id };
}

const rows = [];
const baselineResults = new Map();
const running = new Map();
try {
  for (const scenario of scenarios) {
    const baselineId = scenario.baseline ?? 'sdk';
    if (!running.has(baselineId)) running.set(baselineId, await start(servers[baselineId]));
    const subject = scenario.server ? await start(servers[scenario.server]) : await start({ env: scenario.env });
    const base = running.get(baselineId);
    const baseHeaders = await headersFor(base, {}, servers[baselineId].session);
    const subjectHeaders = await headersFor(subject, scenario.headers ?? {}, scenario.session);
    // Warm both up (JIT, connection pools).
    await load({ url: base.url, headers: baseHeaders, body: CALL, duration: 1, connections: CONNECTIONS });
    await load({ url: subject.url, headers: subjectHeaders, body: CALL, duration: 1, connections: CONNECTIONS });
    const a = [];
    const b = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      a.push(await load({ url: base.url, headers: baseHeaders, body: CALL, duration: DURATION, connections: CONNECTIONS }));
      b.push(await load({ url: subject.url, headers: subjectHeaders, body: CALL, duration: DURATION, connections: CONNECTIONS }));
    }
    await subject.stop();
    const baseRow = { rps: median(a.map((r) => r.rps)), p50: median(a.map((r) => r.p50)), p99: median(a.map((r) => r.p99)) };
    const row = { rps: median(b.map((r) => r.rps)), p50: median(b.map((r) => r.p50)), p99: median(b.map((r) => r.p99)) };
    if (!baselineResults.has(baselineId)) baselineResults.set(baselineId, []);
    baselineResults.get(baselineId).push(baseRow);
    rows.push({ scenario, baselineId, baseRow, row, rpsRatio: row.rps / baseRow.rps, p99Ratio: row.p99 / Math.max(baseRow.p99, 1) });
    const last = rows[rows.length - 1];
    console.error(
      `${scenario.id}: ${row.rps.toFixed(0)} req/s vs ${baseRow.rps.toFixed(0)} (${last.rpsRatio.toFixed(3)}), p99 ${row.p99} vs ${baseRow.p99} ms`,
    );
  }
} finally {
  for (const server of running.values()) await server.stop();
  rmSync(auditDir, { recursive: true, force: true });
}

const fmt = (value, digits = 0) => value.toFixed(digits);
const table = [
  '| Scenario | Baseline | req/s (median) | baseline req/s | ratio | p50 ms | p99 ms | baseline p99 ms | p99 ratio |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    ({ scenario, baselineId, baseRow, row, rpsRatio, p99Ratio }) =>
      `| ${scenario.label} | ${baselineId === 'sdk' ? '(2) SDK, no security' : baselineId} | ${fmt(row.rps)} | ${fmt(baseRow.rps)} | ${fmt(rpsRatio, 3)} | ${fmt(row.p50, 1)} | ${fmt(row.p99, 1)} | ${fmt(baseRow.p99, 1)} | ${fmt(p99Ratio, 2)} |`,
  ),
].join('\n');
const setup = `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; autocannon, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${DURATION} s per side, interleaved A B A B; ${new Date().toISOString().slice(0, 10)}.`;
console.log(`${setup}\n\n${table}`);

if (process.env.BENCH_WRITE !== '0') {
  const path = 'docs/benchmarks.md';
  const doc = readFileSync(path, 'utf8');
  const begin = '<!-- bench:run:begin -->';
  const end = '<!-- bench:run:end -->';
  const block = `${begin}\n${setup}\n\n${table}\n${end}`;
  writeFileSync(path, doc.includes(begin) ? doc.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), block) : `${doc}\n${block}\n`);
}
