// Runs the MCP conformance suite's server scenarios against mcp-guard with the
// full security stack on (bearer token, helmet, CORS, Host/Origin checks, rate
// limits, audit), through a loopback proxy that adds the Authorization header and
// passes Host and Origin through unchanged. Then lists and calls tools with the MCP
// Inspector CLI. Exits non-zero when any active scenario or the Inspector check fails.
// Usage: npm run test:conformance (builds first).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../dist/config/load.js';
import { createSilentLogger } from '../../dist/logging/logger.js';
import { startServer } from '../../dist/main.js';

const TOKEN = 'conformance-token-0123456789abcdef0123456789abcdef';
const work = mkdtempSync(join(tmpdir(), 'mcp-guard-conformance-'));

/** A loopback proxy adding the bearer token; Host and Origin pass through unchanged. */
function startProxy(targetPort) {
  const proxy = http.createServer((req, res) => {
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port: targetPort,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, authorization: `Bearer ${TOKEN}` },
      },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve(proxy)));
}

function run(command, args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const config = loadConfig({
  MCP_HOST: '127.0.0.1',
  MCP_PORT: '0',
  MCP_AUTH_TOKEN: TOKEN,
  MCP_TOOLSET: 'conformance',
  MCP_CORS_ORIGINS: 'http://localhost:6274',
  // One run sends about 120 requests in a second and opens about 60 sessions it never deletes:
  // every limit stays on, each set to admit one run (test/mcp/conformance-toolset.test.ts and
  // test/rate-limit/ show the limits biting).
  MCP_RATE_LIMIT: '1000',
  MCP_RATE_LIMIT_PRINCIPAL: '6000',
  MCP_RATE_LIMIT_PRINCIPAL_BURST: '600',
  MCP_RATE_LIMIT_TOOL: '6000',
  MCP_RATE_LIMIT_TOOL_BURST: '600',
  MCP_MAX_SESSIONS: '200',
  MCP_SESSION_IDLE_TIMEOUT: '2m',
  MCP_AUDIT_ENABLED: 'true',
  MCP_AUDIT_DIR: join(work, 'audit'),
  MCP_SHUTDOWN_TIMEOUT: '2s',
});
const server = await startServer(config, createSilentLogger());
const proxy = await startProxy(Number(new URL(server.url).port));
const url = `http://127.0.0.1:${proxy.address().port}${config.mcp.path}`;
const bin = (name) => join('node_modules', '.bin', name);
let failed = false;

try {
  const started = Date.now();
  const suite = await run(bin('conformance'), ['server', '--url', url, '-o', join(work, 'results')], 240_000);
  const rows = [];
  for (const dir of existsSync(join(work, 'results')) ? readdirSync(join(work, 'results')) : []) {
    const file = join(work, 'results', dir, 'checks.json');
    if (!existsSync(file)) continue;
    const checks = JSON.parse(readFileSync(file, 'utf8'));
    const bad = checks.filter((check) => check.status === 'FAILURE');
    rows.push({ scenario: dir.replace(/^server-/, '').replace(/-\d{4}-.*$/, ''), ok: bad.length === 0, bad });
  }
  const passed = rows.filter((row) => row.ok).length;
  for (const row of rows) {
    console.log(`${row.ok ? 'PASS' : 'FAIL'}  ${row.scenario}`);
    for (const check of row.bad) console.log(`      ${check.id}: ${check.errorMessage ?? ''}`);
  }
  console.log(
    `\nConformance: ${passed}/${rows.length} scenarios passed in ${((Date.now() - started) / 1000).toFixed(1)} s (suite exit ${suite.code})`,
  );
  if (rows.length === 0) console.log(suite.output);
  // Audit was on: every tool call of the suite went through the hooks and is in the trail.
  const auditDir = join(work, 'audit');
  const toolEvents = readdirSync(auditDir)
    .map((name) => readFileSync(join(auditDir, name), 'utf8'))
    .join('')
    .split('\n')
    .filter((line) => line.includes('"type":"tool.call"')).length;
  console.log(`Audit: ${toolEvents} tool.call events recorded`);
  if (toolEvents === 0) failed = true;
  if (rows.length === 0 || passed !== rows.length || suite.code !== 0) failed = true;

  const inspector = (...args) =>
    run(bin('mcp-inspector'), ['--cli', url, '--transport', 'http', '--header', `Authorization: Bearer ${TOKEN}`, ...args], 60_000);
  const listed = await inspector('--method', 'tools/list');
  const called = await inspector('--method', 'tools/call', '--tool-name', 'test_simple_text');
  const inspectorOk =
    listed.code === 0 && listed.output.includes('test_simple_text') && called.code === 0 && called.output.includes('simple text response');
  console.log(`Inspector CLI: ${inspectorOk ? 'PASS' : 'FAIL'} (tools/list and tools/call)`);
  if (!inspectorOk) {
    console.log(listed.output.slice(0, 2000), called.output.slice(0, 2000));
    failed = true;
  }
} finally {
  proxy.close();
  proxy.closeAllConnections();
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
