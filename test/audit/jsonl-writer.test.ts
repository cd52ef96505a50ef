import { mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createJsonlAuditLogger } from '../../src/audit/jsonl-writer.js';
import { tempDir } from '../helpers/server.js';

const event = (action: string) => ({ type: 'config.loaded' as const, action, outcome: { status: 'success' as const } });
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean);

describe('the JSONL audit writer when its file changes underneath it', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => {
    dir.remove();
  });

  it('writes to a new file when the trail is deleted, instead of into the unlinked one', async () => {
    const audit = createJsonlAuditLogger({ dir: dir.dir });
    const trail = join(dir.dir, 'audit.jsonl');
    await audit.record(event('first'));
    rmSync(trail);
    await audit.record(event('second'));
    expect(lines(trail)).toHaveLength(1);
    expect(lines(trail)[0]).toContain('"second"');
    await audit.close();
  });

  it('follows a rotation: the old file keeps its events, new ones go to the path', async () => {
    const audit = createJsonlAuditLogger({ dir: dir.dir });
    const trail = join(dir.dir, 'audit.jsonl');
    await audit.record(event('before'));
    renameSync(trail, `${trail}.1`);
    await audit.record(event('after'));
    expect(lines(`${trail}.1`)).toHaveLength(1);
    expect(lines(trail)[0]).toContain('"after"');
    await audit.close();
  });

  it('rejects the write and reports unhealthy while a directory sits at the path, and recovers after', async () => {
    const errors: unknown[] = [];
    const onError = (error: unknown) => void errors.push(error);
    const audit = createJsonlAuditLogger({ dir: dir.dir, onError });
    const trail = join(dir.dir, 'audit.jsonl');
    await audit.record(event('first'));
    rmSync(trail);
    mkdirSync(trail);
    await expect(audit.record(event('lost'))).rejects.toThrow();
    expect(errors).toHaveLength(1);
    expect(audit.healthy()).toBe(false);
    rmSync(trail, { recursive: true });
    expect(audit.healthy()).toBe(true);
    await audit.record(event('again'));
    // The probe wrote an audit.resumed record counting the refused one, then the chain went on.
    expect(lines(trail).map((line) => JSON.parse(line) as { type: string; details?: unknown })).toEqual([
      expect.objectContaining({ type: 'audit.resumed', details: expect.objectContaining({ refusedRecords: 1 }) }),
      expect.objectContaining({ type: 'config.loaded' }),
    ]);
    await audit.close();
  });
});
