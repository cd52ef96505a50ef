// `npm run bench`: what mcp-guard's security layer costs, against a bare SDK v2 server with the same
// echo tool on the same wire and in the same mode, in one interleaved run. See docs/benchmarks.md
// for the method and the knobs. Prints the tables, writes them between the bench:run markers of
// docs/benchmarks.md (after a full default run, or with BENCH_WRITE=1) and the raw figures to
// bench/results/. Exits non-zero when a scenario failed or mcp-guard failed a check.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import Redis from 'ioredis';
import { format, resolveConfig } from 'prettier';
import { reusedIds, soak } from './checks.mjs';
import {
  cpuMicros,
  installedVersion,
  median,
  percentile,
  pinning,
  probe,
  redisWrites,
  SERVER_NODE_ARGS,
  sleep,
  startProcess,
} from './lib.mjs';
import { createAgent, drive, wireOf } from './load.mjs';
import { renderReport } from './report.mjs';
import { DEFAULT_SCENARIOS, guardEnv, MODES, ORIGIN, parseScenario, sessionHeaders, TARGET_RATIO, VARIANTS } from './scenarios.mjs';

const num = (name, fallback) => {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`${name} must be a non-negative number, got "${value}"`);
  return parsed;
};
const list = (name, fallback) => (process.env[name] ? process.env[name].split(',').map((item) => item.trim()) : fallback);

const config = {
  duration: num('BENCH_DURATION', 10),
  rounds: num('BENCH_ROUNDS', 5),
  warmup: num('BENCH_WARMUP', 10),
  rewarm: num('BENCH_REWARM', 2),
  connections: num('BENCH_CONNECTIONS', 10),
  timeoutMs: num('BENCH_TIMEOUT_MS', 10_000),
  scenarios: list('BENCH_ONLY', DEFAULT_SCENARIOS).map(parseScenario),
  phases: list('BENCH_PHASES', ['scenarios', 'soak', 'reused-ids']),
  soakModes: list('BENCH_SOAK_MODES', ['stateful', 'modern']),
  soakRequests: num('BENCH_SOAK_REQUESTS', 100_000),
  soakWarmup: num('BENCH_SOAK_WARMUP', 5_000),
  soakMaxGrowthMiB: num('BENCH_SOAK_MAX_GROWTH_MIB', 4),
  checkVariant: process.env.BENCH_CHECK_VARIANT || 'audit',
  reusedBurst: num('BENCH_REUSED_BURST', 20),
  reusedBursts: num('BENCH_REUSED_BURSTS', 3),
  reusedTimeoutMs: num('BENCH_REUSED_TIMEOUT_MS', 5_000),
  origin: process.env.BENCH_ORIGIN !== '0',
  note: process.env.BENCH_NOTE,
};
for (const name of ['duration', 'rounds', 'connections']) {
  if (!(config[name] > 0)) throw new Error(`BENCH_${name.toUpperCase()} must be above 0`);
}
for (const phase of config.phases) {
  if (!['scenarios', 'soak', 'reused-ids'].includes(phase)) throw new Error(`BENCH_PHASES: unknown phase "${phase}"`);
}
for (const mode of config.soakModes) if (!MODES[mode]) throw new Error(`BENCH_SOAK_MODES: unknown mode "${mode}"`);
if (!VARIANTS[config.checkVariant] || config.checkVariant === 'redis')
  throw new Error(`BENCH_CHECK_VARIANT: use one of bearer, audit, rs256, hs256, apikey`);

// The bare servers must run on exactly the SDK the project pins.
const pins = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).dependencies;
const sdk = {};
for (const name of ['@modelcontextprotocol/server', '@modelcontextprotocol/node']) {
  sdk[name] = installedVersion(name);
  if (sdk[name] !== pins[name]) throw new Error(`${name} ${sdk[name]} is installed but package.json pins ${pins[name]}: run npm ci`);
}

const pin = pinning();
const serverCpu = pin.pinned ? pin.serverCpu : undefined;
const log = (line) => process.stderr.write(`${line}\n`);
const loadAtStart = loadavg()[0];

/** Starts one side of a scenario: the bare server of the mode, or mcp-guard with the variant's environment. */
async function startSide(role, mode, prepared) {
  const server =
    role === 'bare'
      ? await startProcess(MODES[mode].bare, { BENCH_JSON: process.env.BENCH_JSON ?? '1' }, SERVER_NODE_ARGS, {
          cpu: serverCpu,
          name: `bare ${mode}`,
        })
      : await startProcess('dist/main.js', { ...guardEnv(mode), ...prepared.env }, SERVER_NODE_ARGS, {
          cpu: serverCpu,
          name: `mcp-guard ${mode}`,
        });
  // Both servers get the same request bytes: credential, Origin, session.
  const base = { ...prepared.headers, ...(config.origin ? { origin: ORIGIN } : {}) };
  const session = await sessionHeaders(server.url, mode, base);
  return { role, server, wire: wireOf(MODES[mode].wire, { ...base, ...session }) };
}

/**
 * Redis figures around a window: mcp-guard's own writes and commands to Redis (counted in its
 * process), and the Redis server's CPU (machine-wide: every client of that Redis counts).
 */
async function redisSnapshot(redis, server) {
  const { writes, commands, names } = await redisWrites(server);
  let cpu;
  try {
    cpu = cpuMicros(Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]));
  } catch {
    cpu = undefined; // Redis elsewhere or in another PID namespace: no CPU figure
  }
  return { writes, commands, names, cpu };
}

async function deleteKeys(redis, prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** A re-warm (connections opened, JIT warm after the other side ran), then one measured window. */
async function measure(side, redis) {
  const agent = createAgent(config.connections);
  try {
    const { url } = side.server;
    const common = { url, wire: side.wire, connections: config.connections, agent, timeoutMs: config.timeoutMs };
    const warm = config.rewarm > 0 ? await drive({ ...common, durationMs: config.rewarm * 1000 }) : { invalid: 0, reasons: {} };
    const redisBefore = redis ? await redisSnapshot(redis, side.server) : undefined;
    const cpuBefore = cpuMicros(side.server.pid);
    const result = await drive({ ...common, durationMs: config.duration * 1000 });
    const cpu = cpuMicros(side.server.pid) - cpuBefore;
    const redisAfter = redis ? await redisSnapshot(redis, side.server) : undefined;
    return {
      rps: result.rps,
      answered: result.answered,
      valid: result.valid,
      invalid: result.invalid + warm.invalid,
      reasons: mergeCounts(result.reasons, warm.reasons),
      p50: percentile(result.latencies, 50) / 1000,
      p99: percentile(result.latencies, 99) / 1000,
      cpuPerRequest: cpu / Math.max(1, result.answered),
      serverCpuShare: cpu / result.elapsedUs,
      loadCpuShare: result.loadCpuShare,
      ...(redisBefore && redisAfter
        ? {
            redisRoundTripsPerRequest: (redisAfter.writes - redisBefore.writes) / Math.max(1, result.answered),
            redisCommandsPerRequest: (redisAfter.commands - redisBefore.commands) / Math.max(1, result.answered),
            redisCommands: Object.fromEntries(
              Object.entries(redisAfter.names).map(([name, n]) => [
                name,
                (n - (redisBefore.names[name] ?? 0)) / Math.max(1, result.answered),
              ]),
            ),
            ...(redisBefore.cpu !== undefined
              ? { redisCpuPerRequest: (redisAfter.cpu - redisBefore.cpu) / Math.max(1, result.answered) }
              : {}),
          }
        : {}),
    };
  } finally {
    agent.destroy();
  }
}

function mergeCounts(...maps) {
  const merged = {};
  for (const map of maps) for (const [key, count] of Object.entries(map ?? {})) merged[key] = (merged[key] ?? 0) + count;
  return merged;
}

const spread = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });

function summarize(scenario, rounds, memory) {
  const side = (role) => {
    const runs = rounds.map((round) => round[role]);
    return {
      rps: spread(runs.map((run) => run.rps)),
      p50: median(runs.map((run) => run.p50)),
      p99: median(runs.map((run) => run.p99)),
      cpuPerRequest: spread(runs.map((run) => run.cpuPerRequest)),
      serverCpuShare: median(runs.map((run) => run.serverCpuShare)),
      loadCpuShare: Math.max(...runs.map((run) => run.loadCpuShare)),
      answered: runs.reduce((sum, run) => sum + run.answered, 0),
      invalid: runs.reduce((sum, run) => sum + run.invalid, 0),
      reasons: mergeCounts(...runs.map((run) => run.reasons)),
      ...(runs[0]?.redisCommandsPerRequest !== undefined
        ? {
            redisRoundTripsPerRequest: median(runs.map((run) => run.redisRoundTripsPerRequest)),
            redisCommandsPerRequest: median(runs.map((run) => run.redisCommandsPerRequest)),
            redisCommands: runs[0].redisCommands,
          }
        : {}),
      ...(runs[0]?.redisCpuPerRequest !== undefined ? { redisCpuPerRequest: median(runs.map((run) => run.redisCpuPerRequest)) } : {}),
      memory: memory[role],
    };
  };
  const bare = side('bare');
  const guard = side('guard');
  return {
    ...scenario,
    label: `${MODES[scenario.mode].label}${scenario.variant === 'bearer' ? '' : `, ${VARIANTS[scenario.variant].label}`}`,
    target: TARGET_RATIO[scenario.variant],
    bare,
    guard,
    ratio: spread(rounds.map((round) => round.guard.rps / round.bare.rps)),
    p99Ratio: guard.p99 / bare.p99,
    layerCpu: spread(rounds.map((round) => round.guard.cpuPerRequest - round.bare.cpuPerRequest)),
    failed: bare.invalid + guard.invalid > 0 ? 'invalid responses' : undefined,
  };
}

async function runScenario(scenario) {
  const variant = VARIANTS[scenario.variant];
  const prepared = variant.prepare();
  const redis = prepared.redisPrefix ? new Redis(prepared.env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 }) : undefined;
  const sides = {};
  try {
    if (redis) await redis.connect();
    sides.bare = await startSide('bare', scenario.mode, prepared);
    sides.guard = await startSide('guard', scenario.mode, prepared);
    for (const role of ['bare', 'guard']) {
      const agent = createAgent(config.connections);
      const warm = await drive({
        url: sides[role].server.url,
        wire: sides[role].wire,
        connections: config.connections,
        durationMs: config.warmup * 1000,
        agent,
        timeoutMs: config.timeoutMs,
      });
      agent.destroy();
      if (warm.invalid > 0) throw new Error(`${role} warm-up: ${warm.invalid} invalid responses ${JSON.stringify(warm.reasons)}`);
    }
    const rounds = [];
    for (let round = 0; round < config.rounds; round += 1) {
      // A B in even rounds, B A in odd ones: neither side always runs right after the other.
      const order = round % 2 === 0 ? ['bare', 'guard'] : ['guard', 'bare'];
      const results = {};
      for (const role of order) results[role] = await measure(sides[role], role === 'guard' ? redis : undefined);
      rounds.push(results);
      log(
        `  ${scenario.id} round ${round + 1}: bare ${results.bare.rps.toFixed(0)} req/s ${results.bare.cpuPerRequest.toFixed(0)} us/req, ` +
          `mcp-guard ${results.guard.rps.toFixed(0)} req/s ${results.guard.cpuPerRequest.toFixed(0)} us/req` +
          (results.bare.invalid + results.guard.invalid ? ` INVALID ${results.bare.invalid}/${results.guard.invalid}` : ''),
      );
    }
    const memory = {};
    for (const role of ['bare', 'guard']) {
      const { heapUsed, rss } = await probe(sides[role].server);
      memory[role] = { heapUsed, rss };
    }
    return summarize(scenario, rounds, memory);
  } finally {
    for (const side of Object.values(sides)) await side.server.stop();
    if (redis) {
      await deleteKeys(redis, prepared.redisPrefix).catch(() => undefined);
      redis.disconnect();
    }
    prepared.cleanup?.();
  }
}

/**
 * Soak and reused-id checks on one fresh server of each side per mode. mcp-guard runs as
 * deployed by default, with the durable audit trail on (BENCH_CHECK_VARIANT to change).
 */
async function runChecks(mode) {
  const prepared = VARIANTS[config.checkVariant].prepare();
  const out = {};
  for (const role of ['bare', 'guard']) {
    const side = await startSide(role, mode, prepared);
    try {
      const entry = {};
      if (config.phases.includes('soak')) {
        entry.soak = await soak({
          server: side.server,
          wire: side.wire,
          connections: config.connections,
          requests: config.soakRequests,
          warmup: config.soakWarmup,
          timeoutMs: config.timeoutMs,
        });
        const { heapBefore, heapAfter, bytesPerRequest, invalid } = entry.soak;
        entry.soak.flat = entry.soak.steadyGrowth <= config.soakMaxGrowthMiB * 2 ** 20;
        log(
          `  soak ${mode} ${role}: heap ${(heapBefore / 2 ** 20).toFixed(1)} -> ${(heapAfter / 2 ** 20).toFixed(1)} MiB ` +
            `(${bytesPerRequest.toFixed(1)} B/request)${invalid ? `, ${invalid} invalid` : ''}`,
        );
      } else {
        const agent = createAgent(config.connections);
        await drive({ url: side.server.url, wire: side.wire, connections: config.connections, requests: 1000, agent });
        agent.destroy();
      }
      if (config.phases.includes('reused-ids')) {
        entry.reused = await reusedIds({
          server: side.server,
          wire: side.wire,
          burst: config.reusedBurst,
          bursts: config.reusedBursts,
          timeoutMs: config.reusedTimeoutMs,
        });
        const r = entry.reused;
        log(
          `  reused ids ${mode} ${role}: ${r.answered} answered, ${r.misrouted} misrouted, ${r.refused} refused, ${r.hung} hung, ` +
            `${r.failed} failed of ${r.sent}; usable after: ${r.usableAfter}`,
        );
      }
      out[role] = entry;
    } finally {
      await side.server.stop();
    }
  }
  prepared.cleanup?.();
  return out;
}

// BENCH_FROM=bench/results/bench-<time>.json: no measurement, the tables of that run rendered again.
const from = process.env.BENCH_FROM;
const results = from
  ? rederive(JSON.parse(readFileSync(from, 'utf8')))
  : {
      date: new Date().toISOString(),
      node: process.version,
      cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
      sdk,
      pinning: pin.description,
      config: { ...config, scenarios: config.scenarios.map((scenario) => scenario.id) },
      loadAverage: { start: loadAtStart },
      scenarios: [],
      checks: {},
    };

/** Verdicts recomputed from a raw run's samples with today's thresholds. */
function rederive(raw) {
  for (const check of Object.values(raw.checks ?? {})) {
    for (const role of ['bare', 'guard']) {
      const soaked = check[role]?.soak;
      if (!soaked) continue;
      soaked.steadyGrowth = soaked.samples[soaked.samples.length - 1].heapUsed - soaked.samples[1].heapUsed;
      soaked.flat = soaked.steadyGrowth <= config.soakMaxGrowthMiB * 2 ** 20;
    }
  }
  raw.config = { ...raw.config, soakMaxGrowthMiB: config.soakMaxGrowthMiB, ...(config.note ? { note: config.note } : {}) };
  return raw;
}

if (!from) log(`mcp-guard bench: ${pin.description}; load average ${loadAtStart.toFixed(2)}`);
if (!from && config.phases.includes('scenarios')) {
  for (const scenario of config.scenarios) {
    log(`${scenario.id}:`);
    try {
      results.scenarios.push(await runScenario(scenario));
    } catch (error) {
      log(`  ${scenario.id} failed: ${error.message}`);
      results.scenarios.push({ ...scenario, label: scenario.id, failed: error.message.split('\n')[0] });
    }
    await sleep(200);
  }
}
if (!from && (config.phases.includes('soak') || config.phases.includes('reused-ids'))) {
  for (const mode of config.soakModes) {
    log(`checks ${mode}:`);
    try {
      results.checks[mode] = await runChecks(mode);
    } catch (error) {
      log(`  checks ${mode} failed: ${error.message}`);
      results.checks[mode] = { failed: error.message.split('\n')[0] };
    }
  }
}
if (!from) results.loadAverage.end = loadavg()[0];

const report = renderReport(results);
console.log(report);

// Files are written as the project's formatter would write them (`npm run lint` checks docs/).
const formatted = async (text, file) => format(text, { ...(await resolveConfig(file)), filepath: file });

if (!from) {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const rawFile = new URL(`./results/bench-${results.date.replace(/[:.]/g, '-')}.json`, import.meta.url).pathname;
  writeFileSync(rawFile, await formatted(JSON.stringify(results), rawFile));
  log(`raw figures: ${rawFile}`);
}

// Only a full run (every default scenario and phase) replaces the tables in the docs, unless BENCH_WRITE says otherwise.
const fullRun = !process.env.BENCH_ONLY && !process.env.BENCH_PHASES && !from;
if (process.env.BENCH_WRITE === '1' || (fullRun && process.env.BENCH_WRITE !== '0')) {
  const path = new URL('../docs/benchmarks.md', import.meta.url).pathname;
  const doc = readFileSync(path, 'utf8');
  const begin = '<!-- bench:run:begin -->';
  const end = '<!-- bench:run:end -->';
  const block = `${begin}\n\n${report}\n\n${end}`;
  const updated = doc.includes(begin) ? doc.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), () => block) : `${doc}\n${block}\n`;
  writeFileSync(path, await formatted(updated, path));
  log(`tables written to docs/benchmarks.md`);
}

const failures = [
  ...results.scenarios.filter((row) => row.failed).map((row) => `${row.id}: ${row.failed}`),
  ...Object.entries(results.checks).flatMap(([mode, check]) => [
    ...(check.failed ? [`checks ${mode}: ${check.failed}`] : []),
    ...(check.guard?.reused?.hung ? [`reused ids ${mode}: mcp-guard left ${check.guard.reused.hung} requests hanging`] : []),
    ...(check.guard?.soak && !check.guard.soak.flat ? [`soak ${mode}: mcp-guard heap grew`] : []),
    ...(check.guard?.soak?.invalid ? [`soak ${mode}: ${check.guard.soak.invalid} invalid responses from mcp-guard`] : []),
  ]),
];
if (failures.length) {
  log(`\nFAILED:\n${failures.map((line) => `  ${line}`).join('\n')}`);
  process.exitCode = 1;
}
