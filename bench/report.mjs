// Markdown tables of a benchmark run (the block between the bench:run markers of docs/benchmarks.md).

const f = (value, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const int = (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en') : '-');
const mib = (bytes) => f(bytes / 2 ** 20, 1);
const range = (s, digits) => `${f(s.median, digits)} (${f(s.min, digits)}-${f(s.max, digits)})`;
const row = (cells) => `| ${cells.join(' | ')} |`;
const table = (header, align, rows) => [row(header), row(align), ...rows.map(row)].join('\n');

/** The p99 ratio target of the issue, and the security layer's CPU targets (µs per request). */
const P99_TARGET = 1.25;
const LAYER_TARGETS = [50, 25];

export function renderReport(results) {
  const { config } = results;
  const out = [];
  out.push(
    `Node ${results.node}, ${results.cpu}; ${results.pinning}; ` +
      `${config.connections} connections, closed loop, keep-alive; ${config.rounds} rounds × ${config.duration} s per side, ` +
      `interleaved (A B, then B A), ${config.warmup} s warm-up per server and ${config.rewarm} s re-warm before every window; ` +
      `@modelcontextprotocol/server ${results.sdk['@modelcontextprotocol/server']}, /node ${results.sdk['@modelcontextprotocol/node']}; ` +
      `load average ${f(results.loadAverage.start, 2)} at the start, ${f(results.loadAverage.end, 2)} at the end; ${results.date.slice(0, 10)}.`,
  );
  if (config.note) out.push('', `**${config.note}**`);

  const done = results.scenarios.filter((s) => !s.failed || s.bare);
  const failed = results.scenarios.filter((s) => s.failed);
  if (results.scenarios.length) {
    out.push(
      '',
      '**Throughput and latency** (medians over rounds; ratio = mcp-guard / bare per round)',
      '',
      table(
        [
          'Scenario',
          'bare req/s',
          'mcp-guard req/s',
          'ratio (min-max)',
          'target',
          'p50 ms bare / mcp-guard',
          'p99 ms bare / mcp-guard',
          'p99 ratio',
        ],
        ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
        done.map((s) => [
          s.label,
          int(s.bare.rps.median),
          int(s.guard.rps.median),
          range(s.ratio, 2),
          `≥ ${f(s.target, 2)}`,
          `${f(s.bare.p50, 2)} / ${f(s.guard.p50, 2)}`,
          `${f(s.bare.p99, 2)} / ${f(s.guard.p99, 2)}`,
          f(s.p99Ratio, 2),
        ]),
      ),
      '',
      '**Server CPU per answered request** (µs, from /proc/<pid>/stat over the measured window; security layer = mcp-guard - bare, per round) **and memory** (after a forced full GC at the end of the scenario)',
      '',
      table(
        [
          'Scenario',
          'bare µs/req',
          'mcp-guard µs/req',
          'security layer µs/req (min-max)',
          'server core busy bare / mcp-guard',
          'heap MiB bare / mcp-guard',
          'RSS MiB bare / mcp-guard',
          'responses checked',
          'invalid',
        ],
        ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
        done.map((s) => [
          s.label,
          f(s.bare.cpuPerRequest.median),
          f(s.guard.cpuPerRequest.median),
          range(s.layerCpu, 0),
          `${f(s.bare.serverCpuShare * 100)}% / ${f(s.guard.serverCpuShare * 100)}%`,
          `${mib(s.bare.memory.heapUsed)} / ${mib(s.guard.memory.heapUsed)}`,
          `${mib(s.bare.memory.rss)} / ${mib(s.guard.memory.rss)}`,
          int(s.bare.answered + s.guard.answered),
          s.bare.invalid + s.guard.invalid
            ? `**${s.bare.invalid} / ${s.guard.invalid}** ${JSON.stringify({ ...s.bare.reasons, ...s.guard.reasons })}`
            : '0',
        ]),
      ),
    );
    const redis = done.filter((s) => s.guard.redisCommandsPerRequest !== undefined);
    if (redis.length) {
      out.push(
        '',
        ...redis.map(
          (s) =>
            `Redis, ${s.label}: mcp-guard made ${f(s.guard.redisRoundTripsPerRequest, 2)} round trips (socket writes) with ` +
            `${f(s.guard.redisCommandsPerRequest, 2)} commands per request (counted in its process; ` +
            `${Object.entries(s.guard.redisCommands)
              .filter(([, n]) => n >= 0.01)
              .map(([name, n]) => `${name.toUpperCase()} ${f(n, 2)}`)
              .join(', ')})` +
            (s.guard.redisCpuPerRequest !== undefined
              ? `; the Redis server spent ${f(s.guard.redisCpuPerRequest)} µs of CPU per request (machine-wide: every client of that Redis counts)`
              : '') +
            '.',
        ),
      );
    }
    const saturated = done.filter((s) => s.bare.loadCpuShare > 0.9 || s.guard.loadCpuShare > 0.9);
    if (saturated.length) {
      out.push(
        '',
        `**Load generator near saturation** (its core over 90% busy) in: ${saturated.map((s) => s.id).join(', ')}: req/s there measure the client too.`,
      );
    }
    if (failed.length) {
      out.push('', '**Failed scenarios** (reported as failed, not as fast):', '', ...failed.map((s) => `- ${s.label}: ${s.failed}`));
    }

    out.push(
      '',
      '**Against the targets** (issue 18)',
      '',
      table(
        ['Scenario', `throughput ratio`, `p99 ratio ≤ ${P99_TARGET}`, ...LAYER_TARGETS.map((t) => `layer ≤ ${t} µs`)],
        ['---', '---', '---', ...LAYER_TARGETS.map(() => '---')],
        done.map((s) => {
          const ok = (pass) => (s.failed ? 'failed' : pass ? 'yes' : '**no**');
          return [
            s.label,
            `${f(s.ratio.median, 2)} ≥ ${f(s.target, 2)}: ${ok(s.ratio.median >= s.target)}`,
            `${f(s.p99Ratio, 2)}: ${ok(s.p99Ratio <= P99_TARGET)}`,
            ...LAYER_TARGETS.map((t) => `${f(s.layerCpu.median)}: ${ok(s.layerCpu.median <= t)}`),
          ];
        }),
      ),
    );
  }

  const checks = Object.entries(results.checks);
  const soaks = checks.flatMap(([mode, c]) =>
    ['bare', 'guard'].filter((role) => c[role]?.soak).map((role) => ({ mode, role, ...c[role].soak })),
  );
  if (soaks.length) {
    out.push(
      '',
      `**Soak**: one fresh server per side, ${int(config.soakWarmup)} warm-up requests, then ${int(config.soakRequests)} requests in four parts; heapUsed after a forced full GC before the first part and after each. Flat: the heap grew by at most ${config.soakMaxGrowthMiB} MiB from the end of the first part to the end (lazily built caches settle in the first part; SDK v1 kept about 7 KB per request, 700 MiB here). Slope: least-squares fit over the five samples.`,
      '',
      table(
        [
          'Mode',
          'Server',
          'requests',
          'heap MiB before → after each part',
          'growth MiB (after part 1)',
          'slope B/request',
          'RSS MiB before / after',
          'invalid',
          'flat',
        ],
        ['---', '---', '---:', '---', '---:', '---:', '---:', '---:', '---'],
        soaks.map((s) => [
          modeLabel(s.mode),
          s.role === 'guard' ? 'mcp-guard' : 'bare SDK',
          int(s.requests),
          s.samples.map((sample) => mib(sample.heapUsed)).join(' → '),
          `${f(s.growth / 2 ** 20, 2)} (${f(s.steadyGrowth / 2 ** 20, 2)})`,
          f(s.bytesPerRequest, 1),
          `${mib(s.rssBefore)} / ${mib(s.rssAfter)}`,
          int(s.invalid),
          s.flat ? 'yes' : '**no**',
        ]),
      ),
    );
  }
  const reused = checks.flatMap(([mode, c]) =>
    ['bare', 'guard'].filter((role) => c[role]?.reused).map((role) => ({ mode, role, ...c[role].reused })),
  );
  if (reused.length) {
    out.push(
      '',
      `**Reused JSON-RPC ids**: ${config.reusedBursts} bursts of ${config.reusedBurst} overlapping requests, each burst sharing one id (in one session for 2025 stateful), each request on its own connection with its own echo message; hung = no answer within ${f(config.reusedTimeoutMs / 1000, 0)} s. Misrouted = answered with another request's echo.`,
      '',
      table(
        ['Mode', 'Server', 'sent', 'answered', 'misrouted', 'refused', 'hung', 'connection failed', 'next request answered'],
        ['---', '---', '---:', '---:', '---:', '---', '---:', '---:', '---'],
        reused.map((r) => [
          modeLabel(r.mode),
          r.role === 'guard' ? 'mcp-guard' : 'bare SDK',
          r.sent,
          r.answered,
          r.misrouted,
          r.refused
            ? `${r.refused} (${Object.entries(r.refusals)
                .map(([why, n]) => `${why}: ${n}`)
                .join(', ')})`
            : '0',
          r.role === 'guard' && r.hung ? `**${r.hung}**` : r.hung,
          r.failed,
          r.usableAfter ? 'yes' : '**no**',
        ]),
      ),
    );
  }
  const failedChecks = checks.filter(([, c]) => c.failed);
  if (failedChecks.length) out.push('', ...failedChecks.map(([mode, c]) => `- checks ${mode} failed: ${c.failed}`));
  return out.join('\n');
}

const MODE_LABELS = { stateless: '2025 stateless', stateful: '2025 stateful (one session)', modern: '2026-07-28' };
const modeLabel = (mode) => MODE_LABELS[mode] ?? mode;
