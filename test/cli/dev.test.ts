import { join } from 'node:path';
import { devCommand } from '../../src/cli/commands/dev.js';
import { clientConfig } from '../../src/dev/clients.js';
import { writeDevTokenFile } from '../../src/dev/token-file.js';
import { tempDir } from '../helpers/server.js';

function capture(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (text: string) => out.push(text), stderr: (text: string) => err.push(text), env } };
}

describe('mcp-guard dev', () => {
  let dir: ReturnType<typeof tempDir>;
  let file: string;
  beforeEach(() => {
    dir = tempDir();
    file = join(dir.dir, 'dev', 'dev-token.json');
    writeDevTokenFile(file, { url: 'http://127.0.0.1:4567/mcp', token: 'mcpg_sess_secret', pid: process.pid });
  });
  afterEach(() => dir.remove());

  it('prints the token from MCP_DEV_TOKEN_FILE or --file', async () => {
    const fromEnv = capture({ MCP_DEV_TOKEN_FILE: file });
    expect(await devCommand.run(['token'], fromEnv.io)).toBe(0);
    expect(fromEnv.out.join('')).toBe('mcpg_sess_secret\n');
    const fromFlag = capture();
    expect(await devCommand.run(['token', '--file', file], fromFlag.io)).toBe(0);
    expect(fromFlag.out.join('')).toBe('mcpg_sess_secret\n');
  });

  it('prints each client configuration for the endpoint in the file', async () => {
    for (const client of ['vscode', 'cursor', 'claude-code', 'claude-desktop', 'inspector'] as const) {
      const run = capture({ MCP_DEV_TOKEN_FILE: file });
      expect(await devCommand.run(['config', client], run.io)).toBe(0);
      expect(run.out.join('')).toBe(clientConfig(client, 'http://127.0.0.1:4567/mcp', 'mcpg_sess_secret'));
    }
  });

  it('answers an unknown action or client with the usage and exit code 2, printing no token', async () => {
    for (const args of [[], ['tokens'], ['config'], ['config', 'emacs'], ['token', 'extra']]) {
      const run = capture({ MCP_DEV_TOKEN_FILE: file });
      expect(await devCommand.run(args, run.io)).toBe(2);
      expect(run.err.join('')).toContain('Usage: mcp-guard dev token');
      expect(run.out).toEqual([]);
    }
  });

  it('exits 1 with a hint when there is no token file', async () => {
    const run = capture({ MCP_DEV_TOKEN_FILE: join(dir.dir, 'missing.json') });
    expect(await devCommand.run(['token'], run.io)).toBe(1);
    expect(run.err.join('')).toMatch(/^dev: no development token at .*missing\.json: start the server/);
  });
});
