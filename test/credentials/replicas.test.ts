import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { keysCommand } from '../../src/cli/commands/keys.js';
import { createLockout } from '../../src/credentials/lockout.js';
import { createRedisStore } from '../../src/stores/redis.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { createStoreKey, eventually, initialize, JWT_SECRET, tokenRequest } from './helpers.js';

describe('two replicas sharing Redis', () => {
  let dir: ReturnType<typeof tempDir>;
  let first: TestServer;
  let second: TestServer;
  let pathA: string;
  let key: { key: string; id: string };
  const prefix = uniquePrefix('credentials');
  beforeAll(async () => {
    dir = tempDir();
    pathA = join(dir.dir, 'a', 'keys.json');
    key = await createStoreKey(pathA);
    // Replica B has its own copy of the store file, which the revocation never touches.
    const pathB = join(dir.dir, 'b', 'keys.json');
    await createStoreKey(pathB);
    copyFileSync(pathA, pathB);
    const env = { REDIS_URL, MCP_REDIS_PREFIX: prefix, MCP_LOCKOUT_ATTEMPTS: '0', MCP_JWT_SECRET: JWT_SECRET };
    first = await startTestServer({ ...env, MCP_KEY_STORE: pathA });
    second = await startTestServer({ ...env, MCP_KEY_STORE: pathB });
  });
  afterAll(async () => {
    await Promise.all([first.stop(), second.stop()]);
    dir.remove();
  });

  it('shares refresh-token families: a token rotated on one replica is reuse on the other', async () => {
    const issued = (await (await tokenRequest(first.url, { grant_type: 'client_credentials', client_secret: key.key })).json()) as {
      refresh_token: string;
    };
    const rotated = await tokenRequest(second.url, { grant_type: 'refresh_token', refresh_token: issued.refresh_token });
    expect(rotated.status).toBe(200);
    const next = ((await rotated.json()) as { refresh_token: string }).refresh_token;
    expect((await tokenRequest(first.url, { grant_type: 'refresh_token', refresh_token: issued.refresh_token })).status).toBe(400);
    expect((await tokenRequest(second.url, { grant_type: 'refresh_token', refresh_token: next })).status).toBe(400);
  });

  it('refuses a key on every replica within a second of keys revoke', async () => {
    expect((await initialize(second.mcpUrl, { 'X-API-Key': key.key })).status).toBe(200);
    const out: string[] = [];
    const code = await keysCommand.run(['revoke', key.id, '--store', pathA], {
      stdout: (text) => out.push(text),
      stderr: (text) => out.push(text),
      env: { REDIS_URL, MCP_REDIS_PREFIX: prefix, MCP_AUDIT_DIR: join(dir.dir, 'audit') },
    });
    expect(code).toBe(0);
    expect(out.join('')).toContain('every replica');
    const started = Date.now();
    expect(await eventually(async () => (await initialize(second.mcpUrl, { 'X-API-Key': key.key })).status === 401, 1000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await initialize(first.mcpUrl, { 'X-API-Key': key.key })).status).toBe(401);
  });

  it('shares lockouts through the store', async () => {
    const storeA = await createRedisStore({ url: REDIS_URL, prefix });
    const storeB = await createRedisStore({ url: REDIS_URL, prefix });
    try {
      const a = createLockout({ store: storeA, maxAttempts: 2 });
      const b = createLockout({ store: storeB, maxAttempts: 2 });
      await a.recordFailure({ ip: '192.0.2.7' });
      expect(await b.recordFailure({ ip: '192.0.2.7' })).toHaveLength(1);
      expect(await a.check({ ip: '192.0.2.7' })).toMatchObject({ subject: 'ip' });
    } finally {
      await Promise.all([storeA.shutdown(), storeB.shutdown()]);
    }
  });
});
