// What the gateway costs: the same MCP client calling a tool of an HTTP upstream directly, and
// through the gateway with its whole stack (authentication, policy, rate limits, audit trail on
// disk, metrics). Both eras of client. The upstream is mcp-guard's reference server (its `echo`
// tool, audit off); the gateway runs as `mcp-guard gateway --upstream <url>` in its own process,
// so its CPU time is read from /proc/<pid>/stat.
//
// Prints, per client era: calls per second direct and through the gateway (median of interleaved
// rounds), their ratio, the latency added, and the gateway's CPU time per call.
//
// Usage: npm run bench:gateway (builds first). BENCH_CALLS (default 1500 per round),
// BENCH_CONCURRENCY (default 8), BENCH_ROUNDS (default 3).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const CALLS = Number(process.env.BENCH_CALLS ?? 1500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const UPSTREAM_TOKEN = 'bench-upstream-token-0123456789abcdef0123456789';
const GATEWAY_TOKEN = 'bench-gateway-token-0123456789abcdef01234567890';
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const LIMITS = {
  MCP_RATE_LIMIT: '1000000',
  MCP_RATE_LIMIT_PRINCIPAL: '10000000',
  MCP_RATE_LIMIT_PRINCIPAL_BURST: '1000000',
  MCP_RATE_LIMIT_TOOL: '10000000',
  MCP_RATE_LIMIT_TOOL_BURST: '1000000',
  MCP_RATE_LIMIT_GLOBAL: '100000000',
  MCP_RATE_LIMIT_GLOBAL_BURST: '10000000',
};
const work = mkdtempSync(join(tmpdir(), 'mcp-guard-bench-gateway-'));

/** Starts `node <args>` and resolves with its pid and the MCP URL its "listening" line names. */
function start(args, env) {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', MCP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  return new Promise((resolve, reject) => {
    const onLine = (line) => {
      lines.push(line);
      if (!line.includes('listening')) return;
      const mcp = JSON.parse(line).mcp;
      resolve({ pid: child.pid, url: typeof mcp === 'string' ? mcp : Object.values(mcp)[0], stop: () => child.kill('SIGTERM') });
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${lines.join('\n')}`)));
  });
}

/** User + system CPU of a process, in seconds. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

async function connect(url, token, era) {
  const client = new Client({ name: 'bench', version: '1' }, era === 'modern' ? { versionNegotiation: { mode: 'auto' } } : {});
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  if (client.getProtocolEra() !== era) throw new Error(`expected the ${era} era, got ${client.getProtocolEra()}`);
  return client;
}

/** `CALLS` echo calls, `CONCURRENCY` at a time; resolves with calls/s and mean latency (ms). */
async function drive(client) {
  let next = 0;
  const latencies = [];
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < CALLS) {
      next += 1;
      const begun = process.hrtime.bigint();
      const result = await client.callTool({ name: 'echo', arguments: { message: 'bench' } });
      if (result.isError) throw new Error('echo failed');
      latencies.push(Number(process.hrtime.bigint() - begun) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { rps: CALLS / seconds, latency: latencies.reduce((a, b) => a + b, 0) / latencies.length };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const upstream = await start([join('dist', 'main.js')], { MCP_AUTH_TOKEN: UPSTREAM_TOKEN, MCP_AUDIT_ENABLED: 'false', ...LIMITS });
const gateway = await start([join('dist', 'cli', 'index.js'), 'gateway', '--upstream', upstream.url, '--bearer-env', 'UPSTREAM_TOKEN'], {
  MCP_AUTH_TOKEN: GATEWAY_TOKEN,
  UPSTREAM_TOKEN,
  MCP_AUDIT_DIR: join(work, 'audit'),
  ...LIMITS,
});
const report = [];
try {
  for (const era of ['modern', 'legacy']) {
    const direct = await connect(upstream.url, UPSTREAM_TOKEN, era);
    const through = await connect(gateway.url, GATEWAY_TOKEN, era);
    await drive(direct); // warm-up, both paths
    await drive(through);
    const rows = { direct: [], through: [], gatewayCpu: [], upstreamCpu: [] };
    for (let round = 0; round < ROUNDS; round += 1) {
      rows.direct.push(await drive(direct));
      const gatewayBefore = cpuSeconds(gateway.pid);
      const upstreamBefore = cpuSeconds(upstream.pid);
      rows.through.push(await drive(through));
      rows.gatewayCpu.push(((cpuSeconds(gateway.pid) - gatewayBefore) / CALLS) * 1e6);
      rows.upstreamCpu.push(((cpuSeconds(upstream.pid) - upstreamBefore) / CALLS) * 1e6);
    }
    await direct.close();
    await through.close();
    const directRps = median(rows.direct.map((row) => row.rps));
    const throughRps = median(rows.through.map((row) => row.rps));
    const line = {
      client: era === 'modern' ? '2026-07-28' : '2025',
      'direct calls/s': Math.round(directRps),
      'via gateway calls/s': Math.round(throughRps),
      ratio: (throughRps / directRps).toFixed(2),
      'latency added ms': (median(rows.through.map((row) => row.latency)) - median(rows.direct.map((row) => row.latency))).toFixed(2),
      'gateway CPU us/call': Math.round(median(rows.gatewayCpu)),
      'upstream CPU us/call (via gateway)': Math.round(median(rows.upstreamCpu)),
    };
    report.push(line);
  }
} finally {
  gateway.stop();
  upstream.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`${CALLS} echo calls per round, ${CONCURRENCY} at a time, median of ${ROUNDS} interleaved rounds; CPU from /proc/<pid>/stat`);
console.table(report);
