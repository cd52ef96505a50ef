import { jest } from '@jest/globals';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createJsonlAuditLogger } from '../../src/audit/jsonl-writer.js';
import { verifyAuditDir } from '../../src/audit/verify.js';
import { tempDir } from '../helpers/server.js';

const event = (n: number) => ({ type: 'tool.call' as const, action: `tools/call echo ${n}`, outcome: { status: 'success' as const } });
const typesIn = (dir: string) =>
  readFileSync(join(dir, 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { type: string }).type);
const BUDGET = 32 * 1024;

describe('the byte budget of the audit directory', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => {
    jest.useRealTimers();
    dir.remove();
  });

  it('refuses records past the budget after one audit.budget_reached record, and reports unhealthy', async () => {
    const audit = createJsonlAuditLogger({ dir: dir.dir, maxDirBytes: BUDGET });
    let written = 0;
    let refusal: unknown;
    for (let n = 1; n <= 1000 && !refusal; n += 1) {
      await audit.record(event(n)).then(
        () => (written += 1),
        (error: unknown) => (refusal = error),
      );
    }
    expect(refusal).toMatchObject({ name: 'AuditTrailError', code: 'audit_budget_reached' });
    expect(written).toBeGreaterThan(10);
    await expect(audit.record(event(0))).rejects.toMatchObject({ code: 'audit_budget_reached' });
    expect(audit.healthy()).toBe(false);
    expect(audit.usage()).toMatchObject({ budgetBytes: BUDGET, exceeded: true });
    const types = typesIn(dir.dir);
    expect(types.filter((type) => type === 'audit.budget_reached')).toHaveLength(1);
    expect(types[types.length - 1]).toBe('audit.budget_reached');
    // Past the budget by that last record at most, and every record written is in the chain.
    expect(statSync(join(dir.dir, 'audit.jsonl')).size).toBeLessThan(BUDGET + 1024);
    await audit.close();
    expect(verifyAuditDir(dir.dir)[0]).toMatchObject({ records: written + 1, break: undefined });
  });

  it('turns unhealthy when other files fill the budget, and resumes with an audit.resumed record once they are gone', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const audit = createJsonlAuditLogger({ dir: dir.dir, maxDirBytes: BUDGET });
    await audit.record(event(1));
    expect(audit.healthy()).toBe(true);
    const filler = join(dir.dir, 'filler.bin');
    writeFileSync(filler, Buffer.alloc(BUDGET));
    jest.advanceTimersByTime(1_000); // the directory is scanned at most once a second
    expect(audit.healthy()).toBe(false);
    await expect(audit.record(event(2))).rejects.toMatchObject({ code: 'audit_budget_reached' });
    rmSync(filler);
    jest.advanceTimersByTime(1_000);
    expect(audit.healthy()).toBe(true);
    await audit.record(event(3));
    await audit.close();
    const records = readFileSync(join(dir.dir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; details?: Record<string, unknown> });
    expect(records.map((record) => record.type)).toEqual(['tool.call', 'audit.budget_reached', 'audit.resumed', 'tool.call']);
    expect(records[2]!.details).toMatchObject({ refusedRecords: 1 });
    expect(verifyAuditDir(dir.dir)[0]!.break).toBeUndefined();
  });
});
