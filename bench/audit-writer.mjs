// `npm run bench:audit`: cost of the durable audit write. Each event is in the OS (writeSync)
// before record() resolves. "one write per event": callers await one event at a time, as a
// single client would; "grouped": N concurrent requests record in the same event-loop turn and
// share one writeSync. Also with MCP_AUDIT_FSYNC (an fsync per group).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsonlAuditLogger } from '../dist/audit/jsonl-writer.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const event = (i) => ({
  type: 'tool.call',
  action: 'tools/call echo',
  actor: { principalId: 'token:static', role: 'admin', authMethod: 'bearer', ip: '127.0.0.1' },
  outcome: { status: 'success', durationMs: 0.42 },
  context: { requestId: `req-${i}`, sessionId: 'abc' },
  details: { tool: 'echo', argsDigest: '0123456789abcdef0123456789abcdef' },
});

async function run(label, { group, fsync }) {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-guard-bench-audit-'));
  const audit = createJsonlAuditLogger({ dir, fsync });
  const count = fsync ? Math.min(EVENTS, 2_000) : EVENTS;
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i += group) {
    await Promise.all(Array.from({ length: Math.min(group, count - i) }, (_, j) => audit.record(event(i + j))));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await audit.close();
  rmSync(dir, { recursive: true, force: true });
  return { label, count, perSecond: count / seconds, usPerEvent: (seconds * 1e6) / count };
}

const rows = [
  await run('one write per event', { group: 1, fsync: false }),
  await run('grouped, 10 per turn', { group: 10, fsync: false }),
  await run('grouped, 100 per turn', { group: 100, fsync: false }),
  await run('one write + fsync per event', { group: 1, fsync: true }),
  await run('grouped 100 + fsync per group', { group: 100, fsync: true }),
];
console.log('| Mode | Events | Events/s | µs per event |');
console.log('| --- | ---: | ---: | ---: |');
for (const row of rows) console.log(`| ${row.label} | ${row.count} | ${row.perSecond.toFixed(0)} | ${row.usPerEvent.toFixed(1)} |`);
