// The load generator: closed-loop keep-alive connections on node:http, every request with its own
// JSON-RPC id and its own echo message, every response checked (HTTP 200, the JSON-RPC response
// to that id, the echo of that message). Runs in the harness process, pinned to its own core.
import { Agent, request } from 'node:http';

/** Protocol revisions the requests name. */
export const LEGACY_VERSION = '2025-11-25';
export const MODERN_VERSION = '2026-07-28';

const MODERN_META = JSON.stringify({
  'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
  'io.modelcontextprotocol/clientInfo': { name: 'mcp-guard-bench', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
});

let nextId = 1;
/** A JSON-RPC id never used before in this process: ids are never reused within a session. */
export const freshId = () => nextId++;

/**
 * The request of one wire: `tools/call echo` with id `id` and message `m<id>`. The 2026-07-28
 * wire carries the `_meta` envelope and the routing headers (Mcp-Method, Mcp-Name).
 */
export function wireOf(wire, baseHeaders) {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': wire === 'modern' ? MODERN_VERSION : LEGACY_VERSION,
    ...(wire === 'modern' ? { 'mcp-method': 'tools/call', 'mcp-name': 'echo' } : {}),
    ...baseHeaders,
  };
  const tail = wire === 'modern' ? `"},"_meta":${MODERN_META}}}` : '"}}}';
  return {
    headers,
    body: (id, message = `m${id}`) =>
      `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":{"name":"echo","arguments":{"message":"${message}${tail}`,
  };
}

/** The JSON-RPC messages of a response body, JSON or SSE. */
export function messagesOf(contentType, text) {
  if ((contentType ?? '').includes('text/event-stream')) {
    const messages = [];
    for (const line of text.split('\n')) if (line.startsWith('data:')) messages.push(JSON.parse(line.slice(5)));
    return messages;
  }
  const parsed = JSON.parse(text);
  return Array.isArray(parsed) ? parsed : [parsed];
}

/**
 * Why a response is not the echo of `message` for `id` (undefined when it is):
 * `status <n>`, `unparsable`, `rpc error <code>`, `no response for id`, `wrong text`.
 */
export function checkEcho(status, contentType, text, id, message) {
  if (status !== 200) return `status ${status}`;
  let messages;
  try {
    messages = messagesOf(contentType, text);
  } catch {
    return 'unparsable';
  }
  const response = messages.find((candidate) => candidate && candidate.id === id && ('result' in candidate || 'error' in candidate));
  if (!response) return 'no response for id';
  if (response.error) return `rpc error ${response.error.code}`;
  const content = response.result?.content;
  if (!Array.isArray(content) || content[0]?.type !== 'text' || content[0].text !== message) return 'wrong text';
  return undefined;
}

/** A keep-alive agent for `connections` sockets (one per closed-loop worker). */
export const createAgent = (connections) =>
  new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections, keepAliveMsecs: 1000 });

/**
 * One HTTP POST; resolves with { status, headers, text } or { error } (network error, or `timeout`
 * after `timeoutMs` without the whole response). Never rejects. With `hold` (a promise), the last
 * byte of the body is sent only when it resolves.
 */
export function post(url, headers, body, { agent, timeoutMs = 10_000, hold } = {}) {
  return new Promise((resolve) => {
    let settled = false;
    const done = (value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, agent }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => done({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error) => done({ error: error.code ?? error.message }));
    });
    const timer = setTimeout(() => {
      done({ error: 'timeout' });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error) => done({ error: error.code ?? error.message }));
    if (!hold) return void req.end(body);
    // Everything but the last byte now, the last byte when `hold` resolves: many such requests
    // then complete their bodies in the server in the same event-loop turn.
    req.write(body.slice(0, -1));
    void hold.then(() => req.end(body.slice(-1)));
  });
}

/**
 * Drives `url` with `connections` closed-loop workers until `durationMs` has passed or `requests`
 * requests were sent. Returns counts, throughput, sorted latencies (µs) and the reasons of
 * invalid responses.
 */
export async function drive({ url, wire, connections, durationMs, requests, agent, timeoutMs = 10_000 }) {
  const { headers, body } = wire;
  const latencies = [];
  const invalid = new Map();
  let valid = 0;
  let sent = 0;
  const started = process.hrtime.bigint();
  const deadline = durationMs !== undefined ? started + BigInt(Math.round(durationMs * 1e6)) : undefined;
  const more = () => (requests !== undefined ? sent < requests : process.hrtime.bigint() < deadline);
  const worker = async () => {
    while (more()) {
      sent += 1;
      const id = freshId();
      const message = `m${id}`;
      const t0 = process.hrtime.bigint();
      const answer = await post(url, headers, body(id), { agent, timeoutMs });
      latencies.push(Number(process.hrtime.bigint() - t0) / 1000);
      const reason = answer.error ?? checkEcho(answer.status, answer.headers['content-type'], answer.text, id, message);
      if (reason === undefined) valid += 1;
      else invalid.set(reason, (invalid.get(reason) ?? 0) + 1);
    }
  };
  const cpuBefore = process.cpuUsage();
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsedUs = Number(process.hrtime.bigint() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort((a, b) => a - b);
  const invalidCount = [...invalid.values()].reduce((sum, count) => sum + count, 0);
  return {
    answered: valid + invalidCount,
    valid,
    invalid: invalidCount,
    reasons: Object.fromEntries(invalid),
    elapsedUs,
    rps: (valid + invalidCount) / (elapsedUs / 1e6),
    latencies,
    // The load generator's own CPU use, as a share of one core (near 1: it, not the server, limits).
    loadCpuShare: (cpu.user + cpu.system) / elapsedUs,
  };
}
