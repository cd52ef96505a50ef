import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { INITIALIZE, MCP_POST_HEADERS, tempDir } from '../helpers/server.js';
import { codeBlocks, ROOT, runShell } from './helpers.js';

const CLI = join(ROOT, 'dist', 'cli', 'index.js');
const MAIN = join(ROOT, 'dist', 'main.js');
const JWT_SECRET = 'readme-jwt-secret-0123456789abcdef01234567';
/** `npx mcp-guard ...` as README writes it, run against this checkout's build (never the registry). */
const NPX_SHIM = `npx() { if [ "$1" = mcp-guard ]; then shift; node ${JSON.stringify(CLI)} "$@"; else return 99; fi; }\n`;

/** Relative link targets of a Markdown file, without anchors. */
function relativeLinks(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1]!.split('#')[0]!)
    .filter((target) => target !== '' && !/^[a-z]+:/i.test(target))
    .map((target) => normalize(join(dirname(file), target)));
}

describe('the npm tarball', () => {
  let packed: Set<string>;
  beforeAll(() => {
    const json = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    const [pack] = JSON.parse(json) as Array<{ files: Array<{ path: string }> }>;
    packed = new Set(pack!.files.map((file) => file.path));
  }, 60_000);

  it('holds every file README.md links to or names under docs/', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const named = [...readme.matchAll(/`(docs\/[\w.-]+\.md)`/g)].map((match) => match[1]!);
    const targets = [...relativeLinks('README.md'), ...named];
    expect(targets.length).toBeGreaterThan(5);
    expect(targets.filter((target) => !packed.has(target))).toEqual([]);
  });

  it('holds every file the documents under docs/ link to', () => {
    const docs = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md'));
    const targets = docs.flatMap((name) => relativeLinks(`docs/${name}`));
    expect(targets.filter((target) => !packed.has(target))).toEqual([]);
    for (const name of docs) expect(packed).toContain(`docs/${name}`);
  });
});

describe('the shell blocks of README.md', () => {
  const blocks = codeBlocks('README.md').filter((block) => block.lang === 'sh');
  /** How each block starts; every test below runs or checks the block it names. */
  const STARTS = [
    'npm ci && npm start',
    'npm ci && npm test',
    'export MCP_AUTH_TOKEN=',
    'cp .env.example .env',
    'npx mcp-guard keys create',
    'npx mcp-guard token issue',
  ];
  const take = (start: string) => {
    if (!STARTS.includes(start)) throw new Error(`add ${start} to STARTS`);
    const block = blocks.find((candidate) => candidate.text.startsWith(start));
    if (!block) throw new Error(`README.md has no sh block starting with ${start}`);
    return block.text;
  };

  it('install and start or test with the package scripts (checked, not run: npm ci takes a while)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(take('npm ci && npm start')).toBe('npm ci && npm start');
    expect(take('npm ci && npm test')).toBe('npm ci && npm test');
    expect(pkg.scripts.prepare).toBe('npm run build');
    expect(pkg.scripts.start).toBe('"$npm_node_execpath" dist/main.js');
    expect(pkg.scripts.test).toMatch(/^npm run build && .*jest/);
  });

  it('generate a static token, show it, and start a server that accepts exactly that token', async () => {
    const audit = tempDir();
    // `npm start` is `node dist/main.js` (checked above); exec keeps the server in the shell's process.
    const shell = runShell(`npm() { [ "$1" = start ] && exec node ${JSON.stringify(MAIN)}; }\n${take('export MCP_AUTH_TOKEN=')}`, {
      MCP_PORT: '0',
      MCP_AUDIT_DIR: audit.dir,
    });
    try {
      const token = shell.lines[0] ?? (await shell.waitFor(/./));
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const listening = await shell.waitFor(/mcp-guard listening/);
      const mcpUrl = /"mcp":"([^"]+)"/.exec(listening)![1]!;
      const call = (bearer: string) =>
        fetch(mcpUrl, {
          method: 'POST',
          headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${bearer}` },
          body: JSON.stringify(INITIALIZE),
        }).then(async (response) => (await response.text(), response.status));
      expect(await call(token)).toBe(200);
      expect(await call(`${token.slice(0, -1)}x`)).toBe(401);
    } finally {
      await shell.kill();
      audit.remove();
    }
  });

  it('start the server from a .env copied from .env.example', async () => {
    const dir = tempDir();
    copyFileSync(join(ROOT, '.env.example'), join(dir.dir, '.env.example'));
    symlinkSync(join(ROOT, 'dist'), join(dir.dir, 'dist'));
    const shell = runShell(take('cp .env.example .env'), { MCP_PORT: '0' }, dir.dir);
    try {
      expect(await shell.waitFor(/mcp-guard listening/)).toContain('http://127.0.0.1:');
    } finally {
      await shell.kill();
      dir.remove();
    }
  });

  it('create and list API keys with npx mcp-guard', () => {
    const dir = tempDir();
    try {
      const env = {
        PATH: process.env.PATH ?? '',
        MCP_KEY_STORE: join(dir.dir, 'keys', 'keys.json'),
        MCP_AUDIT_DIR: join(dir.dir, 'audit'),
      };
      const result = spawnSync('bash', ['-ec', `${NPX_SHIM}${take('npx mcp-guard keys create')}`], {
        env,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^mcpg_live_\w+/m);
      expect(result.stdout).toMatch(/\tci\tlive\toperator\t/);
    } finally {
      dir.remove();
    }
  });

  it('issue a service-account token with npx mcp-guard', () => {
    const env = { PATH: process.env.PATH ?? '', MCP_JWT_SECRET: JWT_SECRET };
    const result = spawnSync('bash', ['-ec', `${NPX_SHIM}${take('npx mcp-guard token issue')}`], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });

  it('are each run or checked by one of these tests', () => {
    expect(blocks.filter((block) => !STARTS.some((start) => block.text.startsWith(start))).map((block) => block.text)).toEqual([]);
    for (const start of STARTS) expect(blocks.filter((block) => block.text.startsWith(start))).toHaveLength(1);
  });
});

describe('npx mcp-guard in a clone', () => {
  it('runs the checkout’s own command without going to the registry', () => {
    const result = spawnSync('npx', ['--offline', 'mcp-guard', 'help'], {
      cwd: ROOT,
      env: { ...process.env, npm_config_offline: 'true' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: mcp-guard <command>');
  });
});
