// Shared helpers of the benchmark scripts: start a server process, drive it with autocannon.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

/** Spawns `node <script>` and resolves with the URL from its "listening" line (plain or JSON log). */
export function startProcess(script, env = {}, args = []) {
  const child = spawn(process.execPath, [...args, script], {
    env: { PATH: process.env.PATH ?? '', MCP_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not start:\n${lines.join('\n')}`));
    }, 15_000);
    const onLine = (line) => {
      lines.push(line);
      const plain = /^listening (http:\/\/\S+)$/.exec(line);
      const json = /"mcp":"(http:\/\/[^"]+)"/.exec(line);
      const url = plain?.[1] ?? json?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({
          url,
          pid: child.pid,
          lines,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
            }),
        });
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}:\n${lines.join('\n')}`));
    });
  });
}

/** Runs autocannon for `duration` seconds and returns requests/s and latency percentiles. */
export async function load({ url, headers, body, duration, connections }) {
  const result = await autocannon({ url, method: 'POST', headers, body, duration, connections, pipelining: 1 });
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0)
    throw new Error(`${url}: ${failed} failed responses of ${result.requests.total} (non2xx ${result.non2xx}, errors ${result.errors})`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total };
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** POSTs one JSON-RPC message and returns the response (for set-up such as initialize). */
export async function rpc(url, headers, message) {
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(message) });
  await response.text();
  if (!response.ok) throw new Error(`${message.method}: HTTP ${response.status}`);
  return response;
}
