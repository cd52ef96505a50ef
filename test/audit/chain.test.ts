import { readdirSync, readFileSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { createJsonlAuditLogger, type JsonlAuditOptions } from '../../src/audit/jsonl-writer.js';
import { verifyAuditDir } from '../../src/audit/verify.js';
import { auditCommand } from '../../src/cli/commands/audit.js';
import { tempDir } from '../helpers/server.js';

const event = (n: number) => ({ type: 'tool.call' as const, action: `tools/call echo ${n}`, outcome: { status: 'success' as const } });

async function writeTrail(dir: string, count: number, options: Partial<JsonlAuditOptions> = {}) {
  const audit = createJsonlAuditLogger({ dir, ...options });
  for (let i = 1; i <= count; i += 1) await audit.record(event(i));
  await audit.close();
}

const current = (dir: string) => join(dir, 'audit.jsonl');
const linesOf = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean);
const writeLines = (path: string, lines: string[]) => writeFileSync(path, lines.map((line) => `${line}\n`).join(''));
const firstBreak = (dir: string, key?: string) => verifyAuditDir(dir, key ? Buffer.from(key) : undefined)[0]!.break;

describe('the audit hash chain', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(async () => {
    dir = tempDir();
    await writeTrail(dir.dir, 10);
  });
  afterEach(() => dir.remove());

  it('verifies an untouched trail', () => {
    const [report] = verifyAuditDir(dir.dir);
    expect(report).toMatchObject({ stream: 'audit', records: 10, firstSeq: 1, lastSeq: 10, anchored: false, break: undefined });
  });

  it('reports an edited record at its line as edited, even verified without a key', () => {
    const lines = linesOf(current(dir.dir));
    lines[4] = lines[4]!.replace('echo 5', 'echo 6');
    writeLines(current(dir.dir), lines);
    expect(firstBreak(dir.dir)).toMatchObject({ line: 5, seq: 5, reason: 'edited' });
  });

  it('reports a deleted record where the gap is', () => {
    const lines = linesOf(current(dir.dir));
    lines.splice(3, 1);
    writeLines(current(dir.dir), lines);
    expect(firstBreak(dir.dir)).toMatchObject({ line: 4, seq: 5, reason: 'deleted' });
  });

  it('reports an inserted record, even a copy of a valid one', () => {
    const lines = linesOf(current(dir.dir));
    lines.splice(6, 0, lines[2]!);
    writeLines(current(dir.dir), lines);
    expect(firstBreak(dir.dir)).toMatchObject({ line: 7, reason: 'inserted_or_reordered' });
  });

  it('reports two records swapped', () => {
    const lines = linesOf(current(dir.dir));
    [lines[2], lines[3]] = [lines[3]!, lines[2]!];
    writeLines(current(dir.dir), lines);
    expect(firstBreak(dir.dir)).toMatchObject({ line: 3, reason: 'deleted' });
  });

  it('continues the chain when a new writer opens the same trail, after a crash tore the last line', async () => {
    appendFileSync(current(dir.dir), '{"seq":11,"id":"torn');
    await writeTrail(dir.dir, 5);
    const [report] = verifyAuditDir(dir.dir);
    expect(report).toMatchObject({ records: 15, lastSeq: 15, break: undefined });
  });

  it('mcp-guard audit verify exits 0 on an intact trail and 1 with the place of the break', async () => {
    const out: string[] = [];
    const io = { stdout: (text: string) => out.push(text), stderr: (text: string) => out.push(text), env: {} };
    expect(await auditCommand.run(['verify', dir.dir], io)).toBe(0);
    expect(out.join('')).toContain('audit: OK, 10 records');
    const lines = linesOf(current(dir.dir));
    lines.splice(7, 1);
    writeLines(current(dir.dir), lines);
    out.length = 0;
    expect(await auditCommand.run(['verify', dir.dir], io)).toBe(1);
    expect(out.join('')).toMatch(/BROKEN at audit\.jsonl:8 \(seq 9\): deleted/);
  });
});

describe('a keyed audit chain', () => {
  const key = 'audit-hmac-key-0123456789abcdef0123456789';
  it('cannot be rebuilt without the key after an edit', async () => {
    const dir = tempDir();
    await writeTrail(dir.dir, 3, { hmacKey: key });
    expect(verifyAuditDir(dir.dir, Buffer.from(key))[0]!.break).toBeUndefined();
    expect(verifyAuditDir(dir.dir)[0]!.break).toMatchObject({ reason: 'wrong_key' });
    expect(verifyAuditDir(dir.dir, Buffer.from(`${key}-not-it`))[0]!.break).toMatchObject({ line: 1, reason: 'wrong_key' });
    // Someone without the key edits a record and re-hashes the chain with plain SHA-256.
    const rebuilt = tempDir();
    await writeTrail(rebuilt.dir, 3);
    expect(verifyAuditDir(rebuilt.dir, Buffer.from(key))[0]!.break).toMatchObject({ line: 1, reason: 'unkeyed' });
    dir.remove();
    rebuilt.remove();
  });
});

describe('rotation and retention', () => {
  it('continues the chain across files rotated by size and by day', async () => {
    const dir = tempDir();
    let now = new Date('2026-03-01T23:59:00Z');
    const audit = createJsonlAuditLogger({ dir: dir.dir, maxFileBytes: 4096, now: () => now });
    for (let i = 1; i <= 40; i += 1) await audit.record(event(i));
    now = new Date('2026-03-02T00:01:00Z');
    for (let i = 41; i <= 45; i += 1) await audit.record(event(i));
    await audit.close();
    const files = readdirSync(dir.dir)
      .filter((name) => name.endsWith('.jsonl'))
      .sort();
    expect(files.length).toBeGreaterThan(2);
    expect(verifyAuditDir(dir.dir)[0]).toMatchObject({ records: 45, break: undefined });
    // A record moved from one file to the next breaks it.
    const rotated = files.filter((name) => name !== 'audit.jsonl');
    const last = join(dir.dir, rotated[rotated.length - 1]!);
    const lines = linesOf(last);
    const moved = lines.pop()!;
    writeLines(last, lines);
    writeLines(current(dir.dir), [moved, ...linesOf(current(dir.dir))]);
    expect(verifyAuditDir(dir.dir)[0]!.break).toBeUndefined(); // same order, same links: still the same chain
    const tail = linesOf(current(dir.dir));
    [tail[0], tail[1]] = [tail[1]!, tail[0]!];
    writeLines(current(dir.dir), tail);
    expect(verifyAuditDir(dir.dir)[0]!.break).toMatchObject({ file: 'audit.jsonl', line: 1 });
    dir.remove();
  });

  it('deletes only rotated files older than the retention, and what is left still verifies', async () => {
    const dir = tempDir();
    await writeTrail(dir.dir, 60, { maxFileBytes: 4096 });
    const rotated = readdirSync(dir.dir)
      .filter((name) => name.endsWith('.jsonl') && name !== 'audit.jsonl')
      .sort();
    expect(rotated.length).toBeGreaterThanOrEqual(2);
    const old = Date.now() / 1000 - 10 * 86_400;
    utimesSync(join(dir.dir, rotated[0]!), old, old);
    await writeTrail(dir.dir, 1, { maxFileBytes: 4096, retentionDays: 7 });
    const left = readdirSync(dir.dir);
    expect(left).not.toContain(rotated[0]);
    expect(left).toContain(rotated[1]);
    expect(left).toContain('audit.jsonl');
    const [report] = verifyAuditDir(dir.dir);
    expect(report).toMatchObject({ anchored: true, lastSeq: 61, break: undefined });
    dir.remove();
  });
});
