import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadConfig } from '../../src/config/load.js';
import { startTestServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(): Array<{ keyword: string; args: string }> {
  const text = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n\s*/g, ' ');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [keyword = '', ...rest] = line.trim().split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** The environment the runtime stage sets (the last stage's ENV lines). */
function imageEnv(): Record<string, string> {
  const all = instructions();
  const runtime = all.slice(all.map((i) => i.keyword).lastIndexOf('FROM'));
  const env: Record<string, string> = {};
  for (const { args } of runtime.filter((i) => i.keyword === 'ENV')) {
    for (const pair of args.split(/\s+/)) {
      const [name, value] = pair.split('=', 2) as [string, string];
      env[name] = value;
    }
  }
  return env;
}

/** The HEALTHCHECK's CMD, as the exec-form JSON array Docker runs. */
function healthcheckCommand(): string[] {
  const healthcheck = instructions().find((i) => i.keyword === 'HEALTHCHECK')!;
  return JSON.parse(healthcheck.args.slice(healthcheck.args.indexOf('CMD ') + 4)) as string[];
}

/** Runs the HEALTHCHECK command as Docker would inside the container, with `env`; resolves with its exit code. */
function runHealthcheck(env: Record<string, string>): Promise<number | null> {
  const [command, ...args] = healthcheckCommand();
  expect(command).toBe('node');
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('the Dockerfile', () => {
  it('builds and runs on Node 22 LTS', () => {
    const bases = instructions()
      .filter((i) => i.keyword === 'FROM')
      .map((i) => i.args.split(' ')[0]);
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) expect(base).toMatch(/^node:22-/);
  });

  it('leaves the port to MCP_PORT, then a platform PORT, then 3000', () => {
    const env: Record<string, string | undefined> = { ...imageEnv(), MCP_AUTH_TOKEN: TEST_TOKEN };
    expect(env.MCP_PORT).toBeUndefined();
    expect(env.PORT).toBeUndefined();
    expect(loadConfig(env).server).toMatchObject({ host: '0.0.0.0', port: 3000 });
    expect(loadConfig({ ...env, PORT: '8080' }).server.port).toBe(8080);
    expect(loadConfig({ ...env, PORT: '8080', MCP_PORT: '9090' }).server.port).toBe(9090);
  });

  describe('HEALTHCHECK, run against a server with a Host allowlist', () => {
    let server: TestServer;
    let port: string;
    beforeAll(async () => {
      server = await startTestServer({ MCP_ALLOWED_HOSTS: 'mcp.example.com', MCP_PUBLIC_URL: 'https://mcp.example.com' });
      port = new URL(server.url).port;
    });
    afterAll(async () => {
      await server.stop();
    });

    it('passes on the port from MCP_PORT, and from PORT when MCP_PORT is unset', async () => {
      expect(await runHealthcheck({ MCP_PORT: port })).toBe(0);
      expect(await runHealthcheck({ PORT: port })).toBe(0);
      expect(await runHealthcheck({ MCP_PORT: '', PORT: port })).toBe(0);
    });

    it('fails when nothing answers on the port', async () => {
      expect(await runHealthcheck({ MCP_PORT: String(await freePort()) })).toBe(1);
    });

    it('fails when the server is not healthy enough to answer 200', async () => {
      // /health answers 200 while the process serves; a 403 (the old Host problem) must count as unhealthy.
      const refusing = await startTestServer({ MCP_ALLOWED_HOSTS: 'mcp.example.com' });
      try {
        const [, , code] = healthcheckCommand();
        const withOrigin = code!.replace("path:'/health'", "path:'/health',headers:{Origin:'http://evil.example'}");
        expect(withOrigin).not.toBe(code);
        const child = spawn(process.execPath, ['-e', withOrigin], {
          env: { PATH: process.env.PATH ?? '', MCP_PORT: new URL(refusing.url).port },
          stdio: 'ignore',
        });
        expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(1);
      } finally {
        await refusing.stop();
      }
    });
  });
});
