import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keysCommand } from '../../src/cli/commands/keys.js';
import { tokenCommand } from '../../src/cli/commands/token.js';
import { connectClient, startTestServer, tempDir } from '../helpers/server.js';

const JWT_SECRET = 'cli-roles-jwt-secret-0123456789abcdef012345';
const RBAC = { roles: { support: { inherits: ['viewer'], permissions: ['tools:call'] } } };

function capture(env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (text: string) => out.push(text), stderr: (text: string) => err.push(text), env } };
}

describe('roles in the CLI', () => {
  let dir: ReturnType<typeof tempDir>;
  let rbacFile: string;
  beforeEach(() => {
    dir = tempDir();
    rbacFile = join(dir.dir, 'rbac.json');
    writeFileSync(rbacFile, JSON.stringify(RBAC));
  });
  afterEach(() => dir.remove());

  it('keys create accepts a custom role from MCP_RBAC_FILE, and the server accepts the key it prints', async () => {
    const env = { MCP_KEY_STORE: join(dir.dir, 'store', 'keys.json'), MCP_AUDIT_DIR: join(dir.dir, 'audit'), MCP_RBAC_FILE: rbacFile };
    const run = capture(env);
    expect(await keysCommand.run(['create', '--name', 'helpdesk', '--role', 'support'], run.io)).toBe(0);
    const key = /mcpg_live_\S+/.exec(run.out.join(''))![0];
    const server = await startTestServer({ MCP_AUTH_TOKEN: '', MCP_KEY_STORE: env.MCP_KEY_STORE, MCP_RBAC_FILE: rbacFile });
    try {
      const { client, close } = await connectClient(server.mcpUrl, { 'X-API-Key': key });
      const result = await client.callTool({ name: 'echo', arguments: { message: 'support' } });
      expect(result.content).toEqual([{ type: 'text', text: 'support' }]);
      await close();
    } finally {
      await server.stop();
    }
  });

  it('keys create still refuses a role that neither the built-ins nor MCP_RBAC_FILE define', async () => {
    const env = { MCP_KEY_STORE: join(dir.dir, 'keys.json'), MCP_AUDIT_DIR: join(dir.dir, 'audit'), MCP_RBAC_FILE: rbacFile };
    const run = capture(env);
    expect(await keysCommand.run(['create', '--name', 'x', '--role', 'root'], run.io)).toBe(1);
    expect(run.err.join('')).toMatch(/Unknown role "root" \(.*support/);
    expect(run.out).toEqual([]);
  });

  it('token issue refuses an unknown role with exit 1, a clear message and no token', async () => {
    const run = capture({ MCP_JWT_SECRET: JWT_SECRET });
    expect(await tokenCommand.run(['issue', '--sub', 'ci', '--role', 'nosuchrole'], run.io)).toBe(1);
    expect(run.err.join('')).toMatch(/unknown role "nosuchrole" \(known: admin, operator, viewer, monitor/);
    expect(run.out).toEqual([]);
  });

  it('token issue accepts a custom role from MCP_RBAC_FILE', async () => {
    const run = capture({ MCP_JWT_SECRET: JWT_SECRET, MCP_RBAC_FILE: rbacFile });
    expect(await tokenCommand.run(['issue', '--sub', 'ci', '--role', 'support'], run.io)).toBe(0);
    expect(run.out.join('')).toMatch(/^eyJ/);
  });
});
