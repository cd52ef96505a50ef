import { spawnSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runCli } from '../../src/cli/index.js';
import { isEntryPoint } from '../../src/main.js';
import { tempDir } from '../helpers/server.js';

const BUILT_CLI = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (text: string) => out.push(text), stderr: (text: string) => err.push(text), env: {} } };
}

describe('the CLI entry point', () => {
  it('recognises itself as the entry, directly and through a symbolic link, and nothing else', () => {
    const dir = tempDir();
    try {
      const link = join(dir.dir, 'mcp-guard');
      symlinkSync(BUILT_CLI, link);
      const other = join(dir.dir, 'other.js');
      writeFileSync(other, '');
      const url = pathToFileURL(BUILT_CLI).href;
      expect(isEntryPoint(BUILT_CLI, url)).toBe(true);
      expect(isEntryPoint(link, url)).toBe(true);
      expect(isEntryPoint(other, url)).toBe(false);
      expect(isEntryPoint(join(dir.dir, 'missing.js'), url)).toBe(false);
      expect(isEntryPoint(undefined, url)).toBe(false);
    } finally {
      dir.remove();
    }
  });

  it('runs nothing when imported: the importing process exits at once instead of serving', () => {
    const audit = tempDir();
    try {
      // Before the guard, importing the module started `serve` (a development server), so the
      // process never exited on its own and spawnSync ran into its timeout.
      const result = spawnSync(
        process.execPath,
        ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(BUILT_CLI).href)}); process.stdout.write('imported');`],
        { env: { PATH: process.env.PATH ?? '', MCP_PORT: '0', MCP_AUDIT_DIR: audit.dir }, encoding: 'utf8', timeout: 15_000 },
      );
      expect(result.error).toBeUndefined();
      expect(result.status).toBe(0);
      expect(result.stdout).toBe('imported');
      expect(result.stderr).toBe('');
    } finally {
      audit.remove();
    }
  });

  it('runs commands when started through an npm-style bin link', () => {
    const dir = tempDir();
    try {
      const link = join(dir.dir, 'mcp-guard');
      symlinkSync(BUILT_CLI, link);
      const result = spawnSync(process.execPath, [link, 'help'], {
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
        timeout: 15_000,
      });
      expect(result.status).toBe(0);
      expect(result.stdout).toContain('Usage: mcp-guard <command>');
    } finally {
      dir.remove();
    }
  });

  it('answers an unknown command with the usage and exit code 2', async () => {
    const run = capture();
    expect(await runCli(['frobnicate'], run.io)).toBe(2);
    expect(run.err.join('')).toContain('Unknown command "frobnicate"');
  });
});
