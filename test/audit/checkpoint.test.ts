import { jest } from '@jest/globals';
import { copyFileSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rotatedName } from '../../src/audit/files.js';
import { createJsonlAuditLogger, type JsonlAuditOptions } from '../../src/audit/jsonl-writer.js';
import { verifyAuditDir } from '../../src/audit/verify.js';
import { auditCommand } from '../../src/cli/commands/audit.js';
import { keysCommand } from '../../src/cli/commands/keys.js';
import { tempDir } from '../helpers/server.js';

const KEY = 'audit-hmac-key-0123456789abcdef0123456789';
const event = (n: number) => ({ type: 'tool.call' as const, action: `tools/call echo ${n}`, outcome: { status: 'success' as const } });

async function writeTrail(dir: string, count: number, options: Partial<JsonlAuditOptions> = {}) {
  const audit = createJsonlAuditLogger({ dir, ...options });
  for (let i = 1; i <= count; i += 1) await audit.record(event(i));
  await audit.close();
}

const trail = (dir: string) => join(dir, 'audit.jsonl');
const linesOf = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean);
const writeLines = (path: string, lines: string[]) => writeFileSync(path, lines.map((line) => `${line}\n`).join(''));
const checkpointOf = (dir: string, stream = 'audit') =>
  JSON.parse(readFileSync(join(dir, `${stream}.checkpoint.json`), 'utf8')) as { seq: number; firstSeq: number; keyed: boolean };
const verify = (dir: string, key?: string) => verifyAuditDir(dir, key ? Buffer.from(key) : undefined);

async function cli(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const code = await auditCommand.run(args, { stdout: (text) => out.push(text), stderr: (text) => out.push(text), env });
  return { code, out: out.join('') };
}

describe('audit verify against the checkpoint', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.remove());

  it.each([
    ['without a key', undefined],
    ['with an HMAC key', KEY],
  ])('reports the last records cut off, %s', async (_label, key) => {
    await writeTrail(dir.dir, 10, key ? { hmacKey: key } : {});
    writeLines(trail(dir.dir), linesOf(trail(dir.dir)).slice(0, 7));
    const [report] = verify(dir.dir, key);
    expect(report!.break).toMatchObject({ reason: 'truncated', seq: 10, file: 'audit.checkpoint.json' });
    expect(report!.break!.message).toContain('records 8..10 are missing at the end');
  });

  it('reports the first records deleted while retention is off', async () => {
    await writeTrail(dir.dir, 10);
    writeLines(trail(dir.dir), linesOf(trail(dir.dir)).slice(3));
    expect(verify(dir.dir)[0]!.break).toMatchObject({ reason: 'deleted', file: 'audit.jsonl', line: 1, seq: 4 });
  });

  it('reports a deleted first file among rotated ones, while retention is off', async () => {
    await writeTrail(dir.dir, 60, { maxFileBytes: 4096 });
    const [oldest] = readdirSync(dir.dir)
      .filter((name) => /^audit-\d+/.test(name))
      .sort();
    rmSync(join(dir.dir, oldest!));
    expect(verify(dir.dir)[0]!.break).toMatchObject({ reason: 'deleted' });
  });

  it('refuses a fabricated extra stream: a copy of a real one, or one with a checkpoint copied from another stream', async () => {
    await writeTrail(dir.dir, 5, { hmacKey: KEY });
    copyFileSync(trail(dir.dir), join(dir.dir, 'extra.jsonl'));
    const byStream = () => Object.fromEntries(verify(dir.dir, KEY).map((report) => [report.stream, report.break?.reason]));
    expect(byStream()).toEqual({ audit: undefined, extra: 'no_checkpoint' });
    copyFileSync(join(dir.dir, 'audit.checkpoint.json'), join(dir.dir, 'extra.checkpoint.json'));
    expect(byStream()).toEqual({ audit: undefined, extra: 'checkpoint_invalid' });
  });

  it('refuses a fabricated stream without a key too, and one whose records are not keyed when a key is', async () => {
    await writeTrail(dir.dir, 3, { hmacKey: KEY });
    const other = tempDir();
    await writeTrail(other.dir, 3, { stream: 'forged' });
    copyFileSync(join(other.dir, 'forged.jsonl'), join(dir.dir, 'forged.jsonl'));
    expect(verify(dir.dir).find((report) => report.stream === 'forged')!.break).toMatchObject({ reason: 'no_checkpoint' });
    copyFileSync(join(other.dir, 'forged.checkpoint.json'), join(dir.dir, 'forged.checkpoint.json'));
    expect(verify(dir.dir, KEY).find((report) => report.stream === 'forged')!.break).toMatchObject({ reason: 'unkeyed' });
    other.remove();
  });

  it('refuses a checkpoint altered without the key', async () => {
    await writeTrail(dir.dir, 10, { hmacKey: KEY });
    writeLines(trail(dir.dir), linesOf(trail(dir.dir)).slice(0, 7));
    const path = join(dir.dir, 'audit.checkpoint.json');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"seq":10', '"seq":7'));
    expect(verify(dir.dir, KEY)[0]!.break).toMatchObject({ reason: 'checkpoint_invalid' });
  });

  it('reports a chain rebuilt from the checkpoint on with a new tail', async () => {
    await writeTrail(dir.dir, 5);
    const saved = readFileSync(join(dir.dir, 'audit.checkpoint.json'));
    // Someone without the key cuts the trail back and writes other records in place of the last ones.
    writeLines(trail(dir.dir), linesOf(trail(dir.dir)).slice(0, 3));
    rmSync(join(dir.dir, 'audit.checkpoint.json'));
    await writeTrail(dir.dir, 2);
    writeFileSync(join(dir.dir, 'audit.checkpoint.json'), saved);
    expect(verify(dir.dir)[0]!.break).toMatchObject({ reason: 'checkpoint_mismatch', seq: 5 });
  });

  it('says what an intact trail cannot prove: no key, and the records after the last checkpoint', async () => {
    const audit = createJsonlAuditLogger({ dir: dir.dir, checkpointIntervalMs: 60_000 });
    for (let i = 1; i <= 4; i += 1) await audit.record(event(i));
    audit.checkpoint();
    for (let i = 5; i <= 6; i += 1) await audit.record(event(i));
    const [report] = verify(dir.dir);
    expect(report).toMatchObject({ break: undefined, checkpoint: { seq: 4, authenticated: false } });
    expect(report!.unproven).toEqual([
      expect.stringContaining('no key'),
      expect.stringContaining('2 record(s) after the checkpoint'),
    ]);
    await audit.close();

    const { code, out } = await cli(['verify', dir.dir]);
    expect(code).toBe(0);
    expect(out).toMatch(/audit: OK, 6 records .*checkpoint at seq 6, .*not authenticated/);
    expect(out).toContain('audit: cannot prove: no key');
    expect(out).toContain('audit: cannot prove: records written after the checkpoint');
  });

  it('authenticates the checkpoint with the key, and then only the records after it are unproven', async () => {
    await writeTrail(dir.dir, 3, { hmacKey: KEY });
    const [report] = verify(dir.dir, KEY);
    expect(report).toMatchObject({ break: undefined, checkpoint: { seq: 3, authenticated: true } });
    expect(report!.unproven).toHaveLength(1);
    const { code, out } = await cli(['verify', dir.dir], { MCP_AUDIT_HMAC_KEY: KEY });
    expect(code).toBe(0);
    expect(out).toContain('checkpoint at seq 3');
    expect(out).toContain(', authenticated');
  });

  it('names files in the directory that belong to no stream', async () => {
    await writeTrail(dir.dir, 2);
    writeFileSync(join(dir.dir, 'audit.jsonl.bak'), 'anything');
    const { code, out } = await cli(['verify', dir.dir]);
    expect(code).toBe(0);
    expect(out).toContain('not verified, part of no stream: audit.jsonl.bak');
  });
});

describe('the checkpoint the writer keeps', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => {
    jest.useRealTimers();
    dir.remove();
  });

  it('is written when the writer opens the stream, periodically while records arrive, and at close', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const audit = createJsonlAuditLogger({ dir: dir.dir, checkpointIntervalMs: 5_000 });
    expect(checkpointOf(dir.dir)).toMatchObject({ seq: 0, firstSeq: 1, keyed: false });
    await audit.record(event(1));
    await audit.record(event(2));
    expect(checkpointOf(dir.dir).seq).toBe(0);
    jest.advanceTimersByTime(5_000);
    expect(checkpointOf(dir.dir).seq).toBe(2);
    await audit.record(event(3));
    await audit.close();
    expect(checkpointOf(dir.dir).seq).toBe(3);
  });

  it('is written at rotation, and moves its start before retention deletes old files', async () => {
    await writeTrail(dir.dir, 60, { maxFileBytes: 4096, checkpointIntervalMs: 3_600_000 });
    const rotated = readdirSync(dir.dir)
      .filter((name) => /^audit-\d+/.test(name))
      .sort();
    expect(rotated.length).toBeGreaterThanOrEqual(2);
    const old = Date.now() / 1000 - 10 * 86_400;
    utimesSync(join(dir.dir, rotated[0]!), old, old);
    await writeTrail(dir.dir, 1, { maxFileBytes: 4096, retentionDays: 7 });
    const [report] = verify(dir.dir);
    expect(report).toMatchObject({ break: undefined, anchored: true, lastSeq: 61 });
    expect(checkpointOf(dir.dir).firstSeq).toBe(report!.firstSeq);
  });

  it('verifies a trail whose retention removed every file up to its head, before and after the next record', async () => {
    await writeTrail(dir.dir, 60, { maxFileBytes: 4096 });
    // A crash right after a rotation renamed the current file: every record is in rotated files.
    const first = JSON.parse(linesOf(trail(dir.dir))[0]!) as { seq: number };
    renameSync(trail(dir.dir), join(dir.dir, rotatedName('audit', first.seq, new Date())));
    const old = Date.now() / 1000 - 10 * 86_400;
    for (const name of readdirSync(dir.dir).filter((file) => file.endsWith('.jsonl'))) utimesSync(join(dir.dir, name), old, old);
    const audit = createJsonlAuditLogger({ dir: dir.dir, retentionDays: 7 });
    expect(readdirSync(dir.dir).filter((file) => file.endsWith('.jsonl'))).toEqual([]);
    expect(verify(dir.dir)[0]).toMatchObject({ records: 0, break: undefined, checkpoint: { seq: 60, firstSeq: 61 } });
    await audit.record(event(61));
    expect(verify(dir.dir)[0]).toMatchObject({ records: 1, firstSeq: 61, break: undefined });
    await audit.close();
  });

  it('stops a writer from continuing a trail cut off before its checkpoint', async () => {
    await writeTrail(dir.dir, 10);
    writeLines(trail(dir.dir), linesOf(trail(dir.dir)).slice(0, 8));
    expect(() => createJsonlAuditLogger({ dir: dir.dir })).toThrow(/ends at seq 8, but its checkpoint .* recorded seq 10: records were removed/);
    // Nothing was written over the evidence, and the stream is not left locked.
    expect(linesOf(trail(dir.dir))).toHaveLength(8);
    expect(readdirSync(dir.dir)).not.toContain('audit.lock');
  });
});

describe('the CLI audit stream', () => {
  it('is keyed with MCP_AUDIT_HMAC_KEY, so the whole directory verifies with the key', async () => {
    const dir = tempDir();
    try {
      const env = { MCP_KEY_STORE: join(dir.dir, 'keys.json'), MCP_AUDIT_DIR: join(dir.dir, 'audit'), MCP_AUDIT_HMAC_KEY: KEY };
      const io = { stdout: () => undefined, stderr: () => undefined, env };
      expect(await keysCommand.run(['create', '--name', 'ci', '--role', 'viewer'], io)).toBe(0);
      await writeTrail(env.MCP_AUDIT_DIR, 2, { hmacKey: KEY });
      const reports = verify(env.MCP_AUDIT_DIR, KEY);
      expect(reports.map((report) => [report.stream, report.break, report.checkpoint?.authenticated])).toEqual([
        ['audit', undefined, true],
        ['cli', undefined, true],
      ]);
    } finally {
      dir.remove();
    }
  });
});
