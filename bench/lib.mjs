// Shared helpers of the benchmark scripts: CPU pinning, server processes, /proc readings, statistics.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export { sleep };

function has(command) {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * CPU placement: the load generator (this process, every thread) on one core, each server on
 * another, with `taskset`. Off with BENCH_PIN=0, or when taskset is missing or there is one core.
 */
export function pinning() {
  const count = cpus().length;
  const wanted = process.env.BENCH_PIN !== '0';
  const available = wanted && count >= 2 && has('taskset');
  const loadCpu = process.env.BENCH_LOAD_CPU ?? '0';
  const serverCpu = process.env.BENCH_SERVER_CPU ?? String(count - 1);
  if (available) execFileSync('taskset', ['-a', '-p', '-c', loadCpu, String(process.pid)], { stdio: 'ignore' });
  const description = available
    ? `taskset: load generator on CPU ${loadCpu}, server on CPU ${serverCpu}`
    : `not pinned (${!wanted ? 'BENCH_PIN=0' : count < 2 ? 'one CPU' : 'taskset not found'})`;
  return { pinned: available, loadCpu, serverCpu, description };
}

/**
 * Spawns `node [args] <script>` (under `taskset -c <cpu>` when `cpu` is given: taskset execs node,
 * so the pid is node's) and resolves with the URL from its "listening" line (plain or JSON log).
 * Only PATH and the given variables reach the child.
 */
export function startProcess(script, env = {}, args = [], { cpu, name = script } = {}) {
  const command = cpu !== undefined ? 'taskset' : process.execPath;
  const argv = [...(cpu !== undefined ? ['-c', String(cpu), process.execPath] : []), ...args, script];
  const child = spawn(command, argv, {
    env: { PATH: process.env.PATH ?? '', MCP_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start:\n${lines.join('\n')}`));
    }, 20_000);
    const onLine = (line) => {
      lines.push(line);
      if (lines.length > 2000) lines.splice(0, 1000);
      const plain = /^listening (http:\/\/\S+)$/.exec(line);
      const json = /"mcp":"(http:\/\/[^"]+)"/.exec(line);
      const url = plain?.[1] ?? json?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({
          name,
          url,
          pid: child.pid,
          lines,
          exited: () => child.exitCode !== null || child.signalCode !== null,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
            }),
        });
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${lines.join('\n')}`));
    });
  });
}

let clockTicks;
/** Clock ticks per second of /proc/<pid>/stat times. */
function ticksPerSecond() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU time of a process (all its threads), in microseconds, from /proc/<pid>/stat. */
export function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / ticksPerSecond();
}

/** Resident set size of a process in bytes, from /proc/<pid>/status. */
export function rssOf(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
}

/**
 * Asks a server started with `--expose-gc --import ./bench/gc-probe.mjs` for two full GCs and
 * its memory figures (heapUsed, rss, external, arrayBuffers, in bytes).
 */
export async function probe(server) {
  const seen = server.lines.length;
  process.kill(server.pid, 'SIGUSR2');
  for (let i = 0; i < 200; i += 1) {
    const line = server.lines.slice(seen).find((candidate) => candidate.startsWith('gc-probe '));
    if (line) return JSON.parse(line.slice(9));
    await sleep(25);
  }
  throw new Error(`${server.name}: no gc-probe answer`);
}

/** The Redis writes and commands a server started with BENCH_REDIS_PORT has sent so far (see gc-probe.mjs). */
export async function redisWrites(server) {
  const seen = server.lines.length;
  process.kill(server.pid, 'SIGWINCH');
  for (let i = 0; i < 200; i += 1) {
    const line = server.lines.slice(seen).find((candidate) => candidate.startsWith('redis-writes '));
    if (line) return JSON.parse(line.slice(13));
    await sleep(5);
  }
  throw new Error(`${server.name}: no redis-writes answer`);
}

/** Node flags every benchmarked server runs with (both sides alike). */
export const SERVER_NODE_ARGS = ['--expose-gc', '--import', './bench/gc-probe.mjs'];

export const median = (values) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** The p-th percentile (0-100) of an already sorted array (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Exact versions of installed packages, read from their package.json. */
export function installedVersion(name) {
  return JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
}
