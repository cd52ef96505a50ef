import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, type ServerProcess } from '../helpers/process.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { INITIALIZE, MCP_POST_HEADERS, openSessionToken, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const LEASE_MS = 1_000;

async function status(mcpUrl: string, token: string): Promise<number> {
  const response = await fetch(mcpUrl, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${token}` },
    body: JSON.stringify(INITIALIZE),
  });
  await response.text();
  return response.status;
}

/** Polls every 100 ms until `done()` holds or `limitMs` passed; returns the time it took. */
async function until(done: () => Promise<boolean>, limitMs: number): Promise<number> {
  const begin = Date.now();
  while (!(await done())) {
    if (Date.now() - begin > limitMs) throw new Error(`condition not met within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - begin;
}

describe('development tokens on a store shared by two replicas', () => {
  const dir = tempDir();
  const env = {
    MCP_AUTH_TOKEN: '',
    REDIS_URL,
    MCP_REDIS_PREFIX: uniquePrefix('dev-lease'),
    MCP_SESSION_TOKEN_LEASE: `${LEASE_MS}ms`,
    MCP_RATE_LIMIT: '100000',
  };
  let owner: ServerProcess;
  let other: TestServer;
  beforeAll(async () => {
    other = await startTestServer(env);
    owner = await startProcess({
      ...env,
      MCP_AUDIT_DIR: join(dir.dir, 'audit'),
      MCP_DEV_TOKEN_FILE: join(dir.dir, 'dev', 'dev-token.json'),
    });
    await owner.waitFor(/npx mcp-guard dev config/);
  });
  afterAll(async () => {
    await owner.stop();
    await other.stop();
    dir.remove();
  });

  it('live on while their owner renews them, and die within one lease once it is killed without cleanup', async () => {
    const stream = await openSessionToken(owner.url);
    const held = (JSON.parse(readFileSync(join(dir.dir, 'dev', 'dev-token.json'), 'utf8')) as { token: string }).token;
    const issuedAt = Date.now();
    // Both are accepted by the other replica, past three leases: the owner's heartbeat renews them.
    await until(async () => {
      expect(await status(other.mcpUrl, stream.token)).toBe(200);
      expect(await status(other.mcpUrl, held)).toBe(200);
      return Date.now() - issuedAt > 3 * LEASE_MS;
    }, 10 * LEASE_MS);

    owner.child.kill('SIGKILL'); // no drain, no revocation: a crashed replica
    await owner.exited;
    const elapsed = await until(
      async () => (await status(other.mcpUrl, stream.token)) === 401 && (await status(other.mcpUrl, held)) === 401,
      10 * LEASE_MS,
    );
    // At most one lease after the last renewal, which came less than a third of a lease before the kill.
    expect(elapsed).toBeLessThan(LEASE_MS + 1_000);
    stream.close();
  });
});
