// `npm run bench:memory`: server RSS with 1,000 and 10,000 idle MCP sessions, each holding an
// open GET SSE stream (the standalone stream clients keep for server notifications).
// Reports RSS per idle stream (session + transport + socket), read from /proc/<pid>/status.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { startProcess } from './lib.mjs';

const COUNTS = (process.env.BENCH_STREAMS ?? '1000,10000').split(',').map(Number);
const TOKEN = randomBytes(32).toString('base64url');
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const streamAgent = new Agent({ keepAlive: false, maxSockets: Infinity });

const rssOf = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

/** Asks the server (started with bench/gc-probe.mjs) for a full GC and its memory figures. */
async function probe(server) {
  const seen = server.lines.length;
  process.kill(server.pid, 'SIGUSR2');
  for (let i = 0; i < 100; i += 1) {
    const line = server.lines.slice(seen).find((candidate) => candidate.startsWith('gc-probe '));
    if (line) return JSON.parse(line.slice(9));
    await sleep(50);
  }
  throw new Error('no gc-probe answer');
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function call(url, method, headers, body, useAgent = agent) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: useAgent }, (res) => {
      if (method === 'GET') return resolve({ res, headers: res.headers, status: res.statusCode });
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ headers: res.headers, status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function openStream(url) {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${TOKEN}`,
    'mcp-protocol-version': '2025-06-18',
  };
  const init = await call(
    url,
    'POST',
    headers,
    JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mem', version: '1' } },
    }),
  );
  if (init.status !== 200) throw new Error(`initialize: ${init.status} ${init.text}`);
  const session = init.headers['mcp-session-id'];
  await call(
    url,
    'POST',
    { ...headers, 'mcp-session-id': session },
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  );
  const stream = await call(url, 'GET', { ...headers, accept: 'text/event-stream', 'mcp-session-id': session }, undefined, streamAgent);
  if (stream.status !== 200) throw new Error(`GET stream: ${stream.status}`);
  return stream.res;
}

const SERVERS = {
  'mcp-guard (full stack)': ['dist/main.js', {}],
  'bare SDK v2 (baseline)': ['bench/servers/bare-2025-stateful.mjs', {}],
};
const results = [];
for (const [name, [script, extraEnv]] of Object.entries(SERVERS))
  for (const count of COUNTS) {
    const server = await startProcess(
      script,
      {
        ...extraEnv,
        MCP_PORT: '0',
        MCP_LOG_LEVEL: 'info',
        MCP_AUTH_TOKEN: TOKEN,
        MCP_JSON_RESPONSE: 'true',
        MCP_MAX_SESSIONS: String(count + 100),
        // Every stream belongs to the same principal: its own cap (default 10) would evict them.
        MCP_MAX_SESSIONS_PER_PRINCIPAL: String(count + 100),
        MCP_RATE_LIMIT: '1000000',
        MCP_RATE_LIMIT_PRINCIPAL: '0',
        MCP_RATE_LIMIT_GLOBAL: '0',
        MCP_AUDIT_ENABLED: 'false',
      },
      ['--expose-gc', '--import', './bench/gc-probe.mjs'],
    );
    try {
      await sleep(500);
      const heapBefore = (await probe(server)).heapUsed;
      const before = rssOf(server.pid);
      const streams = [];
      for (let i = 0; i < count; i += 50) {
        streams.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => openStream(server.url)))));
      }
      await sleep(2_000);
      const heapAfter = (await probe(server)).heapUsed;
      const after = rssOf(server.pid);
      results.push({ name, count, before, after, perStream: (after - before) / count, heapPerStream: (heapAfter - heapBefore) / count });
      console.error(`${name}, ${count} streams: RSS ${(before / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB`);
      for (const stream of streams) stream.destroy();
    } finally {
      await server.stop();
    }
  }
agent.destroy();

console.log('| Server | Idle SSE streams | RSS before | RSS with streams | RSS per stream | retained heap per stream (after full GC) |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const { name, count, before, after, perStream, heapPerStream } of results) {
  console.log(
    `| ${name} | ${count.toLocaleString('en')} | ${(before / 2 ** 20).toFixed(1)} MiB | ${(after / 2 ** 20).toFixed(1)} MiB | ${(perStream / 1024).toFixed(1)} KB | ${(heapPerStream / 1024).toFixed(1)} KB |`,
  );
}
