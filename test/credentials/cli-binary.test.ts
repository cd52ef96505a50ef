import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/server.js';

const CLI = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url));

describe('the mcp-guard binary', () => {
  it('runs keys create and keys list from the built CLI', () => {
    const dir = tempDir();
    try {
      const env = { PATH: process.env.PATH ?? '', MCP_KEY_STORE: join(dir.dir, 'keys.json'), MCP_AUDIT_DIR: join(dir.dir, 'audit') };
      const created = spawnSync(process.execPath, [CLI, 'keys', 'create', '--name', 'bin', '--role', 'viewer'], { env, encoding: 'utf8' });
      expect(created.status).toBe(0);
      const key = /mcpg_live_\S+/.exec(created.stdout)![0];
      const listed = spawnSync(process.execPath, [CLI, 'keys', 'list'], { env, encoding: 'utf8' });
      expect(listed.status).toBe(0);
      expect(listed.stdout).toContain('bin');
      expect(listed.stdout).not.toContain(key);
      const help = spawnSync(process.execPath, [CLI, 'help'], { env, encoding: 'utf8' });
      expect(help.stdout).toMatch(/keys[\s\S]*token/);
    } finally {
      dir.remove();
    }
  });
});
