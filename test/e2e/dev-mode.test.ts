import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, type ServerProcess } from '../helpers/process.js';
import {
  connectClient,
  INITIALIZE,
  MCP_POST_HEADERS,
  readFirstEvent,
  startTestServer,
  tempDir,
  type TestServer,
} from '../helpers/server.js';

const CLI = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url));

async function initializeWith(mcpUrl: string, token: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(mcpUrl, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify(INITIALIZE),
  });
}

describe('the development token held by the server', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Trusting the loopback proxy lets a test present itself as a remote client with X-Forwarded-For.
    server = await startTestServer({ MCP_AUTH_TOKEN: '', MCP_TRUST_PROXY: '127.0.0.1' });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('exists in development mode and lets the SDK client call a tool without any stream open', async () => {
    const token = server.running.guard.devToken!;
    expect(token).toMatch(/^mcpg_sess_[A-Za-z0-9_-]{43}$/);
    const { client, close } = await connectClient(server.mcpUrl, { Authorization: `Bearer ${token}` });
    const result = await client.callTool({ name: 'echo', arguments: { message: 'desktop' } });
    expect(result.content).toEqual([{ type: 'text', text: 'desktop' }]);
    await close();
  });

  it('is refused from a non-loopback address with 403', async () => {
    const response = await initializeWith(server.mcpUrl, server.running.guard.devToken!, { 'X-Forwarded-For': '203.0.113.7' });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('forbidden');
    expect((await initializeWith(server.mcpUrl, server.running.guard.devToken!)).status).toBe(200);
  });

  it('never lets stale tokens lock the developer out: lockout is off in development mode', async () => {
    for (let attempt = 0; attempt < 12; attempt += 1) {
      const stale = await initializeWith(server.mcpUrl, `mcpg_sess_stale${String(attempt).padStart(39, 'A')}`);
      await stale.text();
      expect(stale.status).toBe(401);
    }
    const fresh = await initializeWith(server.mcpUrl, server.running.guard.devToken!);
    await fresh.text();
    expect(fresh.status).toBe(200);
  });

  it('dies with the app: refused once the server was stopped and started again', async () => {
    const other = await startTestServer({ MCP_AUTH_TOKEN: '' });
    const token = other.running.guard.devToken!;
    await other.stop();
    const next = await startTestServer({ MCP_AUTH_TOKEN: '' });
    try {
      expect(next.running.guard.devToken).not.toBe(token);
      const response = await initializeWith(next.mcpUrl, token);
      await response.text();
      expect(response.status).toBe(401);
    } finally {
      await next.stop();
    }
  });

  it('does not exist outside development mode', async () => {
    const production = await startTestServer();
    try {
      expect(production.running.guard.devToken).toBeUndefined();
    } finally {
      await production.stop();
    }
  });
});

describe('GET /session and web pages', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_AUTH_TOKEN: '', MCP_CORS_ORIGINS: '*' });
  });
  afterAll(async () => {
    await server.stop();
  });

  it.each([
    ['a cross-origin page', { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors' }],
    ['an Origin alone', { Origin: 'https://evil.example' }],
    ['fetch metadata alone', { 'Sec-Fetch-Site': 'same-site', 'Sec-Fetch-Dest': 'empty' }],
    ['a Referer', { Referer: 'https://evil.example/page' }],
  ])('hands no token to %s, even with MCP_CORS_ORIGINS=*', async (_name, headers) => {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/session`, { headers, signal: controller.signal });
    if (response.status === 200) controller.abort(); // a stream with a token: fail below, leave nothing open
    expect(response.status).toBe(403);
    const body = await response.text();
    expect(body).not.toContain('mcpg_sess_');
    expect(JSON.parse(body)).toMatchObject({ error: { code: 'origin_not_allowed' } });
  });

  it('still hands a token to a local non-browser client', async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/session`, { signal: controller.signal });
    expect(response.status).toBe(200);
    expect(await readFirstEvent(response)).toContain('mcpg_sess_');
    controller.abort();
  });
});

describe('development mode from the command line', () => {
  let dir: ReturnType<typeof tempDir>;
  let started: ServerProcess;
  let tokenFile: string;
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, 'dev', ...args], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', cwd: dir.dir });

  beforeAll(async () => {
    dir = tempDir();
    tokenFile = join(dir.dir, '.mcp-guard', 'dev-token.json');
    started = await startProcess({ MCP_AUDIT_DIR: join(dir.dir, 'audit') }, { cwd: dir.dir });
  });
  afterAll(async () => {
    await started.stop();
    dir.remove();
  });

  it('prints, at start-up, the endpoint and the commands that give a client its token, never the token', async () => {
    const guide = await started.waitFor(/npx mcp-guard dev config/);
    const output = started.lines.join('\n');
    expect(output).toContain(`endpoint  ${started.mcpUrl}`);
    expect(output).toContain('npx mcp-guard dev token');
    expect(guide).toContain('vscode|cursor|claude-code|claude-desktop|inspector');
    const { token } = JSON.parse(readFileSync(tokenFile, 'utf8')) as { token: string };
    expect(output).not.toContain(token);
  });

  it('writes the token to a private file in a private directory, and `dev token` prints a token the server accepts', async () => {
    await started.waitFor(/npx mcp-guard dev config/);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir.dir, '.mcp-guard')).mode & 0o777).toBe(0o700);
    const printed = cli('token');
    expect(printed.status).toBe(0);
    const response = await initializeWith(started.mcpUrl, printed.stdout.trim());
    await response.text();
    expect(response.status).toBe(200);
  });

  it('`dev config` prints a configuration with the endpoint and the token', async () => {
    await started.waitFor(/npx mcp-guard dev config/);
    const printed = cli('config', 'vscode');
    expect(printed.status).toBe(0);
    const config = JSON.parse(printed.stdout) as { servers: Record<string, { url: string; headers: { Authorization: string } }> };
    expect(config.servers['mcp-guard']!.url).toBe(started.mcpUrl);
    expect(config.servers['mcp-guard']!.headers.Authorization).toBe(`Bearer ${cli('token').stdout.trim()}`);
  });

  it('removes the file when the server stops, and `dev token` then says to start it', async () => {
    // A server of its own: the others above keep theirs running.
    const own = tempDir();
    try {
      const server = await startProcess({ MCP_AUDIT_DIR: join(own.dir, 'audit') }, { cwd: own.dir });
      await server.waitFor(/npx mcp-guard dev config/);
      const file = join(own.dir, '.mcp-guard', 'dev-token.json');
      expect(existsSync(file)).toBe(true);
      await server.stop();
      expect(server.child.signalCode).toBeNull(); // a graceful stop, not killed by the signal
      expect(existsSync(file)).toBe(false);
      const printed = spawnSync(process.execPath, [CLI, 'dev', 'token'], {
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
        cwd: own.dir,
      });
      expect(printed.status).toBe(1);
      expect(printed.stderr).toMatch(/no development token at .*start the server/);
    } finally {
      own.remove();
    }
  });
});
