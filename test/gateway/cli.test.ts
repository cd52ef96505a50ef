import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { quickStartFile } from '../../src/cli/commands/gateway.js';
import { readDevTokenFile } from '../../src/dev/token-file.js';
import { GatewayFileError } from '../../src/gateway/file.js';
import { connectClient, connectModernClient, tempDir, TEST_TOKEN } from '../helpers/server.js';
import { EVERYTHING } from './helpers.js';

const CLI = join(process.cwd(), 'dist', 'cli', 'index.js');

/** Runs `mcp-guard gateway ...` (the build) with exactly `env` plus PATH; resolves once it listens. */
function startCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI, 'gateway', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', MCP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const listening = new Promise<Record<string, string>>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        if (line.includes('gateway listening')) resolve((JSON.parse(line) as { mcp: Record<string, string> }).mcp);
      });
    }
    void exited.then((code) => reject(new Error(`exited ${code}:\n${lines.join('\n')}`)));
  });
  listening.catch(() => undefined); // awaited only by the tests that expect it to listen
  return { child, lines, exited, listening };
}

describe('mcp-guard gateway', () => {
  it('starts a stdio server given after -- and serves it at /mcp/upstream behind the stack, then stops on SIGTERM', async () => {
    const audit = tempDir();
    const cli = startCli(['--', process.execPath, EVERYTHING, 'stdio'], { MCP_AUTH_TOKEN: TEST_TOKEN, MCP_AUDIT_DIR: audit.dir });
    try {
      const urls = await cli.listening;
      expect(Object.keys(urls)).toEqual(['upstream']);
      expect(urls.upstream).toMatch(/\/mcp\/upstream$/);
      const modern = await connectModernClient(urls.upstream!);
      expect((await modern.client.callTool({ name: 'echo', arguments: { message: 'cli' } })).content).toEqual([
        { type: 'text', text: 'Echo: cli' },
      ]);
      await modern.close();
      await expect(connectClient(urls.upstream!, { Authorization: 'Bearer wrong-token-0123456789abcdef0123456789' })).rejects.toThrow();
      expect(cli.lines.join('\n')).toContain('MCPG_GATEWAY_DEFAULT_ALLOW');
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
    } finally {
      cli.child.kill('SIGKILL');
      audit.remove();
    }
  }, 30_000);

  it('runs in development mode without a credential: loopback only, a development token in its private file, gone when it stops', async () => {
    const dir = tempDir();
    const tokenFile = join(dir.dir, 'dev', 'dev-token.json');
    const cli = startCli(['--', process.execPath, EVERYTHING, 'stdio'], {
      MCP_AUDIT_DIR: join(dir.dir, 'audit'),
      MCP_DEV_TOKEN_FILE: tokenFile,
    });
    try {
      const urls = await cli.listening;
      const deadline = Date.now() + 10_000;
      while (!cli.lines.some((line) => line.includes('dies when this gateway stops')) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(cli.lines).toContain(`  endpoint  ${urls.upstream}`);
      const { token } = readDevTokenFile(tokenFile);
      expect(cli.lines.join('\n')).not.toContain(token);
      const client = await connectModernClient(urls.upstream!, { Authorization: `Bearer ${token}` });
      expect((await client.client.listTools()).tools.length).toBeGreaterThan(0);
      await client.close();
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
      expect(existsSync(tokenFile)).toBe(false);
    } finally {
      cli.child.kill('SIGKILL');
      dir.remove();
    }
  }, 30_000);

  it('refuses a gateway file with unknown keys or a secret written in it, naming each problem and no value', async () => {
    const dir = tempDir();
    const path = join(dir.dir, 'gateway.json');
    writeFileSync(
      path,
      JSON.stringify({
        upstreams: {
          api: { url: 'https://api.example/mcp', auth: { type: 'bearer', token: 'literal-secret-value' }, colour: 'blue' },
          'Bad Name': { command: 'x' },
        },
      }),
    );
    const cli = startCli([], { MCP_AUTH_TOKEN: TEST_TOKEN, MCP_GATEWAY_FILE: path, MCP_AUDIT_DIR: join(dir.dir, 'audit') });
    const code = await cli.exited;
    dir.remove();
    const output = cli.lines.join('\n');
    expect(code).toBe(2);
    expect(output).toContain('upstreams.api.auth.token');
    expect(output).toContain('upstreams.api: Unrecognized key: "colour"');
    expect(output).toContain('upstreams.Bad Name: upstream names use');
    expect(output).not.toContain('literal-secret-value');
  });

  it.each([
    [[], 'give either --upstream <url> or -- <command>'],
    [['--upstream', 'http://a/mcp', '--', 'x'], 'give either --upstream <url> or -- <command>'],
    [['--upstream', 'ftp://a/mcp'], 'must be an http(s) URL'],
    [['--bearer-file', 'f', '--', 'x'], 'apply to --upstream only'],
  ])('refuses the quick-start arguments %j', (args, message) => {
    expect(() => quickStartFile(args, {})).toThrow(message);
  });

  it('reads MCP_GATEWAY_FILE, and refuses flags beside it', () => {
    expect(() => quickStartFile(['--upstream', 'http://a/mcp'], { MCP_GATEWAY_FILE: '/nonexistent' })).toThrow('MCP_GATEWAY_FILE is set');
    expect(() => quickStartFile([], { MCP_GATEWAY_FILE: '/nonexistent/gateway.json' })).toThrow(GatewayFileError);
  });

  it('gives the quick start an explicit policy: the usual MCP permission for every name', () => {
    const file = quickStartFile(['--upstream', 'https://api.example/mcp', '--bearer-env', 'API_TOKEN'], {});
    expect(file.upstreams[0]).toMatchObject({
      name: 'upstream',
      kind: 'http',
      auth: { type: 'bearer', token: { env: 'API_TOKEN' } },
      policy: { default: { tools: 'tools:call', prompts: 'prompts:get', resources: 'resources:read' } },
    });
  });
});
