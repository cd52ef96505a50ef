import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { addKey } from '../../src/credentials/key-lifecycle.js';
import { readKeyStoreFile, writeKeyStoreFile, type KeyStoreData } from '../../src/credentials/key-store-file.js';
import { tempDir } from '../helpers/server.js';

// The writers run the built code (`npm test` builds first), each in a process of its own.
const WRITER = fileURLToPath(new URL('./fixtures/key-store-writer.mjs', import.meta.url));
const CLI = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url));

interface Writer {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; stderr: string }>;
}

function spawnWriter(args: string[]): Writer {
  const child = spawn(process.execPath, [WRITER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') resolve();
    });
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  return { child, ready, exited };
}

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe('the key-store file under concurrent writers', () => {
  it('keeps every created key and every revocation when many processes change it at once', async () => {
    const dir = tempDir();
    try {
      mkdirSync(join(dir.dir, 'store'), { mode: 0o700 });
      const path = join(dir.dir, 'store', 'keys.json');
      let data: KeyStoreData = { version: 1, keys: [] };
      for (let i = 0; i < 20; i += 1) data = addKey(data, { name: `initial-${i}`, role: 'viewer' }).data;
      writeKeyStoreFile(path, data);
      const ids = data.keys.map((key) => key.id);

      // Four creators, one revoker of all twenty keys, two replicas flushing last-used times of the
      // same keys (each flush rewrites the records a revocation changes), and three `keys create` CLIs.
      const writers = [
        ...Array.from({ length: 4 }, () => spawnWriter([path, 'create', '15'])),
        spawnWriter([path, 'revoke', ...ids]),
        spawnWriter([path, 'touch', '25', ...ids]),
        spawnWriter([path, 'touch', '25', ...ids]),
      ];
      await Promise.all(writers.map((writer) => writer.ready));
      const env = { MCP_KEY_STORE: path, MCP_AUDIT_ENABLED: 'false' };
      const clis = Array.from({ length: 3 }, (_, i) => runCli(['keys', 'create', '--name', `cli-${i}`, '--role', 'viewer'], env));
      for (const writer of writers) writer.child.stdin!.end('go\n');

      const results = await Promise.all(writers.map((writer) => writer.exited));
      expect(results.filter((result) => result.code !== 0)).toEqual([]);
      expect((await Promise.all(clis)).map((result) => result.code)).toEqual([0, 0, 0]);

      const stored = readKeyStoreFile(path).keys;
      const initial = stored.filter((key) => ids.includes(key.id));
      expect({
        keys: stored.length,
        revoked: initial.filter((key) => key.revokedAt).length,
        touched: initial.filter((key) => key.lastUsedAt).length,
      }).toEqual({ keys: 20 + 4 * 15 + 3, revoked: 20, touched: 20 });
    } finally {
      dir.remove();
    }
  }, 60_000);
});
