import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AuditTrailError } from '../../src/audit/errors.js';
import { createJsonlAuditLogger, openJsonlAuditLogger } from '../../src/audit/jsonl-writer.js';
import { verifyAuditDir } from '../../src/audit/verify.js';
import { runToExit, startProcess } from '../helpers/process.js';
import { MCP_POST_HEADERS, TEST_TOKEN, tempDir } from '../helpers/server.js';

const event = (action: string) => ({ type: 'config.loaded' as const, action, outcome: { status: 'success' as const } });
const lockOf = (dir: string, stream = 'audit') => join(dir, `${stream}.lock`);
const writeLock = (dir: string, owner: { pid: number; host: string }) =>
  writeFileSync(lockOf(dir), JSON.stringify({ ...owner, since: '2026-01-01T00:00:00.000Z', instance: 'someone-else' }));

describe('two writers on one audit directory', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.remove());

  it('refuses the second writer of a stream, naming the process that holds it, and lets one in after close', async () => {
    const first = createJsonlAuditLogger({ dir: dir.dir });
    await first.record(event('first'));
    let refusal: unknown;
    try {
      createJsonlAuditLogger({ dir: dir.dir });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(AuditTrailError);
    expect(refusal).toMatchObject({ code: 'audit_locked' });
    expect((refusal as Error).message).toContain(`in use by process ${process.pid} on ${hostname()}`);
    expect((refusal as Error).message).toContain('own MCP_AUDIT_DIR');
    // Another stream of the same directory (the CLI's) is a writer of its own.
    const cli = createJsonlAuditLogger({ dir: dir.dir, stream: 'cli' });
    await cli.close();
    await first.close();
    const second = createJsonlAuditLogger({ dir: dir.dir });
    await second.record(event('second'));
    await second.close();
    expect(verifyAuditDir(dir.dir).map((report) => report.break)).toEqual([undefined, undefined]);
  });

  it('takes over at once the lock of a process of this host that is gone', async () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    writeLock(dir.dir, { pid: gone, host: hostname() });
    const audit = createJsonlAuditLogger({ dir: dir.dir });
    expect(JSON.parse(readFileSync(lockOf(dir.dir), 'utf8'))).toMatchObject({ pid: process.pid });
    await audit.close();
  });

  it('takes over the lock of another host only once it has not been refreshed for lockStaleMs', async () => {
    writeLock(dir.dir, { pid: 1, host: 'another-host.example' });
    expect(() => createJsonlAuditLogger({ dir: dir.dir, lockStaleMs: 30_000 })).toThrow(/in use by process 1 on another-host\.example/);
    const old = (Date.now() - 31_000) / 1000;
    utimesSync(lockOf(dir.dir), old, old);
    const audit = createJsonlAuditLogger({ dir: dir.dir, lockStaleMs: 30_000 });
    await audit.record(event('taken over'));
    await audit.close();
  });

  it('stops writing, for good, once another writer took its lock', async () => {
    const errors: unknown[] = [];
    const audit = createJsonlAuditLogger({ dir: dir.dir, onError: (error) => void errors.push(error) });
    await audit.record(event('before'));
    rmSync(lockOf(dir.dir));
    writeLock(dir.dir, { pid: 1, host: 'another-host.example' });
    await expect(audit.record(event('after'))).rejects.toMatchObject({ code: 'audit_lock_lost' });
    expect(audit.healthy()).toBe(false);
    expect(errors).toEqual([expect.objectContaining({ code: 'audit_lock_lost' })]);
    await audit.close();
    // Its close neither wrote a checkpoint nor removed the other writer's lock.
    expect(JSON.parse(readFileSync(lockOf(dir.dir), 'utf8'))).toMatchObject({ host: 'another-host.example' });
  });

  it('lets short-lived writers such as the CLI wait for each other and keep one chain', async () => {
    const runs = Array.from({ length: 10 }, async (_, n) => {
      const audit = await openJsonlAuditLogger({ dir: dir.dir, stream: 'cli' });
      await audit.record(event(`run ${n}`));
      await audit.close();
    });
    await Promise.all(runs);
    expect(verifyAuditDir(dir.dir)[0]).toMatchObject({ stream: 'cli', records: 10, break: undefined });
  });
});

describe('two server processes on one audit directory', () => {
  it('refuses to start the second with a clear error, and the first keeps one chain', async () => {
    const files = tempDir();
    const env = { MCP_AUTH_TOKEN: TEST_TOKEN, MCP_AUDIT_DIR: files.dir };
    const first = await startProcess(env);
    try {
      const second = await runToExit({ ...env, MCP_PORT: '0' });
      expect(second.code).toBe(1);
      expect(second.output).toContain('start-up failed');
      expect(second.output).toContain(`is in use by process ${first.child.pid}`);
      expect(second.output).toContain('own MCP_AUDIT_DIR');
      const call = await fetch(first.mcpUrl, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${TEST_TOKEN}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } }),
      });
      await call.text();
    } finally {
      await first.stop();
    }
    expect(verifyAuditDir(files.dir)[0]).toMatchObject({ records: expect.any(Number), break: undefined });
    files.remove();
  });

  it('starts again on the directory of a server killed with SIGKILL and continues its chain', async () => {
    const files = tempDir();
    const env = { MCP_AUTH_TOKEN: TEST_TOKEN, MCP_AUDIT_DIR: files.dir };
    const killed = await startProcess(env);
    killed.child.kill('SIGKILL');
    await killed.exited;
    const restarted = await startProcess(env);
    await restarted.stop();
    const [report] = verifyAuditDir(files.dir);
    expect(report).toMatchObject({ break: undefined, records: 2 }); // config.loaded of each run
    files.remove();
  });
});
