import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { startTestServer, tempDir, TEST_TOKEN } from '../helpers/server.js';
import { codeBlocks, ROOT } from './helpers.js';

/** Documents whose every block a test of their own handles (and fails on a new, unhandled one). */
const OWN_TESTS: Record<string, string> = {
  'README.md': 'test/docs/readme.test.ts and test/docs/library.test.ts',
  'docs/clients.md': 'test/docs/clients.test.ts',
  'docs/gateway.md': 'test/gateway/docs.test.ts',
  'docs/pinning.md': 'test/pinning/docs.test.ts',
};

/** Every test file's text, to find the doc-test names they run. */
function testSources(dir = join(ROOT, 'test')): string {
  return readdirSync(dir, { withFileTypes: true })
    .map((entry) =>
      entry.isDirectory()
        ? entry.name.startsWith('.')
          ? ''
          : testSources(join(dir, entry.name))
        : entry.name.endsWith('.ts')
          ? readFileSync(join(dir, entry.name), 'utf8')
          : '',
    )
    .join('\n');
}

/** The marker above a block: the nearest non-blank line before its fence. */
function markerOf(file: string, line: number): string {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  for (let index = line - 2; index >= 0; index -= 1) if (lines[index]!.trim() !== '') return lines[index]!.trim();
  return '';
}

/** One block of a document, by what it starts with. */
function block(file: string, start: string): string {
  const found = codeBlocks(file).find((candidate) => candidate.text.startsWith(start));
  if (!found) throw new Error(`${file} has no block starting with ${start}`);
  return found.text;
}

describe('the code blocks of docs/', () => {
  it('are each run by a test, checked by a named one, or marked as a fragment with the reason', () => {
    const sources = testSources();
    const unhandled: string[] = [];
    const docs = readdirSync(join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`);
    for (const file of docs) {
      if (OWN_TESTS[file]) continue;
      // Tagged blocks are code; untagged ones are diagrams and layouts, nothing to paste.
      for (const { line } of codeBlocks(file).filter((candidate) => candidate.lang !== '')) {
        const marker = markerOf(file, line);
        const run = /^<!-- doc-test: ([a-z0-9-]+) -->$/.exec(marker);
        const check = /^<!-- doc-check: (\S+) -->$/.exec(marker);
        const fragment = /^<!-- doc-fragment: .{10,} -->$/.test(marker);
        if (run && sources.includes(run[1]!)) continue;
        if (check && existsSync(join(ROOT, check[1]!))) continue;
        if (fragment) continue;
        unhandled.push(`${file}:${line}`);
      }
    }
    expect(unhandled).toEqual([]);
  });

  it('docs/authorization.md: the RBAC file example loads', () => {
    const files = tempDir();
    const path = join(files.dir, 'rbac.json');
    writeFileSync(path, block('docs/authorization.md', '{'));
    try {
      const config = loadConfig({ MCP_AUTH_TOKEN: TEST_TOKEN, MCP_RBAC_FILE: path });
      expect(config.rbac.roles.auditor).toEqual(['audit:read', 'metrics:read']);
      expect(config.rbac.roles.support).toEqual(expect.arrayContaining(['kv:write', 'tools:call']));
      expect(config.rbac.tools).toEqual({ kv_delete: 'kv:admin' });
    } finally {
      files.remove();
    }
  });

  it('docs/audit.md: the verify commands run as written, against a plain and a keyed trail', async () => {
    const key = 'doc-audit-hmac-key-0123456789abcdef0123456789';
    const files = tempDir();
    writeFileSync(join(files.dir, 'audit_key'), key);
    const plain = await startTestServer();
    const keyed = await startTestServer({ MCP_AUDIT_HMAC_KEY: key });
    try {
      const [withoutKey, withKey] = block('docs/audit.md', 'npx mcp-guard audit verify').split('\n');
      const shim = `npx() { shift; node ${JSON.stringify(join(ROOT, 'dist', 'cli', 'index.js'))} "$@"; }\n`;
      const run = (line: string, dir: string) =>
        spawnSync(
          'bash',
          [
            '--norc',
            '--noprofile',
            '-c',
            shim + line.replaceAll('./audit', dir).replaceAll('/run/secrets/audit_key', join(files.dir, 'audit_key')),
          ],
          {
            encoding: 'utf8',
            env: { PATH: process.env.PATH ?? '' },
          },
        );
      for (const [line, dir] of [
        [withoutKey!, plain.auditDir],
        [withKey!, keyed.auditDir],
      ] as const) {
        const result = run(line, dir);
        expect({ line, status: result.status, stderr: result.stderr }).toEqual({ line, status: 0, stderr: '' });
      }
    } finally {
      await Promise.all([plain.stop(), keyed.stop()]);
      files.remove();
    }
  });

  it('docs/conformance.md: the single-scenario command names options the runner takes', () => {
    const command = block('docs/conformance.md', 'npm run build');
    const runner = readFileSync(join(ROOT, 'test', 'conformance', 'run.mjs'), 'utf8');
    for (const option of command.match(/--[a-z-]+/g) ?? []) expect(runner).toContain(`'${option.slice(2)}'`);
    expect(readFileSync(join(ROOT, '.ci', 'run'), 'utf8')).toContain(block('docs/conformance.md', 'npm ci').split('\n')[1]!);
  });

  it('docs/credentials.md: the discovery document has exactly the fields shown', async () => {
    const server = await startTestServer({ MCP_OAUTH_AUTHORIZATION_SERVERS: 'https://auth.example.com', MCP_OAUTH_SCOPES: 'tools:call' });
    try {
      const served = (await (await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<string, unknown>;
      const shown = JSON.parse(block('docs/credentials.md', '{\n  "resource"')) as Record<string, unknown>;
      expect(Object.keys(served).sort()).toEqual(Object.keys(shown).sort());
      expect(served.authorization_servers).toEqual(shown.authorization_servers);
    } finally {
      await server.stop();
    }
  });
});
