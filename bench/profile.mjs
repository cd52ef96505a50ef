// `npm run bench:profile`: where the server's CPU goes, per request. Runs each scenario of
// BENCH_ONLY (default stateless,stateful,modern) with both servers under `node --cpu-prof`, drives
// each for BENCH_DURATION seconds after the warm-up, and prints self time in µs per request by
// package, by Node core module, by mcp-guard file, and the top functions, for the bare server and
// mcp-guard side by side. Only samples inside the measured window count: V8's profile clock and
// process.hrtime are both CLOCK_MONOTONIC, so the window is cut exactly.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { format, resolveConfig } from 'prettier';
import { join } from 'node:path';
import { cpuMicros, pinning, SERVER_NODE_ARGS, startProcess } from './lib.mjs';
import { createAgent, drive, wireOf } from './load.mjs';
import { guardEnv, MODES, ORIGIN, parseScenario, sessionHeaders, VARIANTS } from './scenarios.mjs';

const seconds = (name, fallback) => Number(process.env[name] || fallback);
const DURATION = seconds('BENCH_DURATION', 10);
const WARMUP = seconds('BENCH_WARMUP', 10);
const CONNECTIONS = seconds('BENCH_CONNECTIONS', 10);
const INTERVAL = seconds('BENCH_PROFILE_INTERVAL', 200); // µs between samples
const TOP = seconds('BENCH_PROFILE_TOP', 25);
const STACKS = seconds('BENCH_PROFILE_STACKS', 10); // functions of mcp-guard's top list shown with their callers
const DEPTH = 8;
const scenarios = (process.env.BENCH_ONLY ?? 'stateless,stateful,modern').split(',').map((id) => parseScenario(id.trim()));

const pin = pinning();
const formatted = async (text, file) => format(text, { ...(await resolveConfig(file)), filepath: file });
const root = new URL('..', import.meta.url).pathname;

/** The package (or Node core module, or V8 category) a profile node's code belongs to. */
function classify({ url, functionName }) {
  if (!url) return { pkg: functionName.startsWith('(') ? functionName : '(native)', module: functionName || '(native)' };
  if (url.startsWith('node:')) {
    const path = url.slice(5);
    let module = path.startsWith('internal/deps/undici') ? 'undici (web Request/Response/Headers)' : path.split('/').slice(0, 2).join('/');
    if (/^_http_|^http$|^internal\/http/.test(path)) module = 'http';
    if (/^internal\/(streams|webstreams)|^stream/.test(path)) module = path.startsWith('internal/webstreams') ? 'webstreams' : 'streams';
    return { pkg: 'node (core)', module: `node:${module}` };
  }
  const path = url.replace(/^file:\/\//, '');
  const at = path.lastIndexOf('/node_modules/');
  if (at >= 0) {
    const parts = path.slice(at + 14).split('/');
    const pkg = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    return { pkg, module: pkg };
  }
  if (path.startsWith(`${root}dist/`)) return { pkg: 'mcp-guard', module: `mcp-guard ${path.slice(root.length)}` };
  if (path.startsWith(`${root}bench/`)) return { pkg: 'bench (bare server)', module: path.slice(root.length) };
  return { pkg: path, module: path };
}

/** Self time (µs) inside [from, to] per package, per module and per function of one .cpuprofile. */
function analyze(profile, from, to) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const stacks = new Map();
  const byPkg = new Map();
  const byModule = new Map();
  const byFunction = new Map();
  const add = (map, key, value) => map.set(key, (map.get(key) ?? 0) + value);
  let time = profile.startTime;
  const times = profile.timeDeltas.map((delta) => (time += delta));
  let total = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length - 1; i += 1) {
    if (times[i] < from || times[i] >= to) continue;
    const weight = times[i + 1] - times[i];
    const { callFrame } = nodes.get(profile.samples[i]);
    if (callFrame.functionName === '(idle)') {
      idle += weight;
      continue;
    }
    total += weight;
    const { pkg, module } = classify(callFrame);
    add(byPkg, pkg, weight);
    add(byModule, module, weight);
    const where = callFrame.url
      ? `${callFrame.url.replace(`file://${root}`, '').replace(/^.*node_modules\//, '')}:${callFrame.lineNumber + 1}`
      : '';
    const fn = `${callFrame.functionName || '(anonymous)'} ${where}`.trim();
    add(byFunction, fn, weight);
    const callers = [];
    for (let id = parents.get(profile.samples[i]); id !== undefined && callers.length < DEPTH; id = parents.get(id)) {
      const frame = nodes.get(id).callFrame;
      if (frame.functionName === '(root)') break;
      callers.push(`${frame.functionName || '(anonymous)'} (${classify(frame).module.replace(/^mcp-guard /, '')})`);
    }
    if (!stacks.has(fn)) stacks.set(fn, new Map());
    add(stacks.get(fn), callers.join(' < '), weight);
  }
  return { total, idle, byPkg, byModule, byFunction, stacks };
}

async function profileScenario({ id, mode, variant }) {
  const prepared = VARIANTS[variant].prepare();
  const dir = mkdtempSync(join(tmpdir(), 'mcp-guard-bench-prof-'));
  const sides = {};
  try {
    for (const role of ['bare', 'guard']) {
      const args = ['--cpu-prof', '--cpu-prof-dir', join(dir, role), '--cpu-prof-interval', String(INTERVAL), ...SERVER_NODE_ARGS];
      const server =
        role === 'bare'
          ? await startProcess(MODES[mode].bare, {}, args, { cpu: pin.pinned ? pin.serverCpu : undefined, name: `bare ${mode}` })
          : await startProcess('dist/main.js', { ...guardEnv(mode), ...prepared.env }, args, {
              cpu: pin.pinned ? pin.serverCpu : undefined,
              name: `mcp-guard ${mode}`,
            });
      const base = { ...prepared.headers, origin: ORIGIN };
      sides[role] = { server, wire: wireOf(MODES[mode].wire, { ...base, ...(await sessionHeaders(server.url, mode, base)) }) };
    }
    const windows = {};
    for (const role of ['bare', 'guard']) {
      const { server, wire } = sides[role];
      const agent = createAgent(CONNECTIONS);
      const common = { url: server.url, wire, connections: CONNECTIONS, agent };
      await drive({ ...common, durationMs: WARMUP * 1000 });
      const cpu = cpuMicros(server.pid);
      const from = Number(process.hrtime.bigint() / 1000n);
      const result = await drive({ ...common, durationMs: DURATION * 1000 });
      windows[role] = {
        from,
        to: Number(process.hrtime.bigint() / 1000n),
        requests: result.answered,
        invalid: result.invalid,
        cpu: cpuMicros(server.pid) - cpu,
      };
      agent.destroy();
    }
    for (const side of Object.values(sides)) await side.server.stop();
    const analyses = {};
    for (const role of ['bare', 'guard']) {
      const [file] = readdirSync(join(dir, role)).filter((name) => name.endsWith('.cpuprofile'));
      if (!file) throw new Error(`${role}: no .cpuprofile written`);
      const { from, to } = windows[role];
      analyses[role] = analyze(JSON.parse(readFileSync(join(dir, role, file), 'utf8')), from, to);
    }
    return render(id, windows, analyses);
  } finally {
    for (const side of Object.values(sides)) await side.server.stop();
    rmSync(dir, { recursive: true, force: true });
    prepared.cleanup?.();
  }
}

/** The full report of one scenario, and its by-package table for docs/benchmarks.md. */
function render(id, windows, analyses) {
  const per = (role, us) => us / Math.max(1, windows[role].requests);
  const f = (value) => (value >= 9.95 ? value.toFixed(0) : value.toFixed(1));
  const lines = [];
  let summary;
  const side = (title, key, limit) => {
    const keys = new Set([...analyses.bare[key].keys(), ...analyses.guard[key].keys()]);
    const rows = [...keys]
      .map((name) => ({
        name,
        bare: per('bare', analyses.bare[key].get(name) ?? 0),
        guard: per('guard', analyses.guard[key].get(name) ?? 0),
      }))
      .sort((a, b) => b.guard - a.guard)
      .slice(0, limit);
    const tableLines = ['| | bare µs/req | mcp-guard µs/req | difference |', '| --- | ---: | ---: | ---: |'];
    for (const row of rows) tableLines.push(`| ${row.name} | ${f(row.bare)} | ${f(row.guard)} | ${f(row.guard - row.bare)} |`);
    lines.push('', `${title}`, '', ...tableLines);
    return tableLines;
  };
  // Packages (and mcp-guard's own files) without a single sample in the bare server's window.
  let onlyGuard = 0;
  for (const [pkg, us] of analyses.guard.byPkg) if (!analyses.bare.byPkg.has(pkg) && !pkg.startsWith('(')) onlyGuard += us;
  const heading = `### ${MODES[parseScenario(id).mode].label}${parseScenario(id).variant === 'bearer' ? '' : `, ${VARIANTS[parseScenario(id).variant].label}`}`;
  const totals =
    `bare: ${windows.bare.requests} requests (${windows.bare.invalid} invalid), /proc CPU ${f(per('bare', windows.bare.cpu))} µs/req, ` +
    `profiled main thread ${f(per('bare', analyses.bare.total))} µs/req; ` +
    `mcp-guard: ${windows.guard.requests} requests (${windows.guard.invalid} invalid), /proc CPU ${f(per('guard', windows.guard.cpu))} µs/req, ` +
    `profiled main thread ${f(per('guard', analyses.guard.total))} µs/req. ` +
    `Self time in code the bare server never ran (mcp-guard's files and the packages only it loads): ${f(per('guard', onlyGuard))} µs/req, ` +
    `a lower bound of the security layer's cost that does not depend on comparing two runs.`;
  lines.push(heading, '', totals);
  summary = [heading, '', totals, '', ...side('Self time by package', 'byPkg', 40).slice(0, 22)];
  side('Self time by module (Node core modules, packages, mcp-guard files)', 'byModule', 40);
  const cell = (text) => text.replace(/\|/g, '\\|');
  const functions = [...analyses.guard.byFunction.entries()].map(([name, us]) => ({
    name,
    bare: per('bare', analyses.bare.byFunction.get(name) ?? 0),
    guard: per('guard', us),
  }));
  const top = [...functions].sort((a, b) => b.guard - a.guard).slice(0, TOP);
  lines.push(
    '',
    `Top ${TOP} functions of mcp-guard by self time`,
    '',
    '| function | bare µs/req | mcp-guard µs/req | difference |',
    '| --- | ---: | ---: | ---: |',
  );
  for (const row of top) lines.push(`| ${cell(row.name)} | ${f(row.bare)} | ${f(row.guard)} | ${f(row.guard - row.bare)} |`);
  const traced = functions
    .filter((row) => !row.name.startsWith('('))
    .sort((a, b) => b.guard - b.bare - (a.guard - a.bare))
    .slice(0, STACKS);
  if (traced.length)
    lines.push(
      '',
      `The ${traced.length} functions mcp-guard spends most on beyond the bare server, with their most frequent callers (innermost first)`,
      '',
    );
  for (const row of traced) {
    const callers = [...analyses.guard.stacks.get(row.name).entries()].sort((a, b) => b[1] - a[1]).slice(0, 3);
    lines.push(`- ${cell(row.name)}: +${f(row.guard - row.bare)} µs/req (bare ${f(row.bare)}, mcp-guard ${f(row.guard)})`);
    for (const [stack, weight] of callers) lines.push(`  - ${f(per('guard', weight))} µs: ${stack || '(top level)'}`);
  }
  return { full: lines.join('\n'), summary: summary.join('\n') };
}

process.stderr.write(`mcp-guard bench:profile: ${pin.description}; sampling every ${INTERVAL} µs (adds its own CPU to both sides)\n`);
const reports = [];
for (const scenario of scenarios) {
  const report = await profileScenario(scenario);
  console.log(`${report.full}\n`);
  reports.push(report);
}

const date = new Date().toISOString();
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const file = new URL(`./results/profile-${date.replace(/[:.]/g, '-')}.md`, import.meta.url).pathname;
const setup = `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; ${pin.description}; ${CONNECTIONS} connections; ${WARMUP} s warm-up, ${DURATION} s profiled per server, sampling every ${INTERVAL} µs; load average ${loadavg()[0].toFixed(2)}; ${date.slice(0, 10)}.`;
writeFileSync(file, await formatted(`${setup}\n\n${reports.map((report) => report.full).join('\n\n')}\n`, file));
process.stderr.write(`full profile report: ${file}\n`);

// The by-package tables go between the bench:profile markers of docs/benchmarks.md after a default run.
if (process.env.BENCH_WRITE === '1' || (!process.env.BENCH_ONLY && process.env.BENCH_WRITE !== '0')) {
  const path = new URL('../docs/benchmarks.md', import.meta.url).pathname;
  const doc = readFileSync(path, 'utf8');
  const begin = '<!-- bench:profile:begin -->';
  const end = '<!-- bench:profile:end -->';
  const note = process.env.BENCH_NOTE ? `\n\n**${process.env.BENCH_NOTE}**` : '';
  const block = `${begin}\n\n${setup}${note}\n\n${reports.map((report) => report.summary).join('\n\n')}\n\n${end}`;
  const updated = doc.includes(begin) ? doc.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), () => block) : `${doc}\n${block}\n`;
  writeFileSync(path, await formatted(updated, path));
  process.stderr.write('by-package tables written to docs/benchmarks.md\n');
}
