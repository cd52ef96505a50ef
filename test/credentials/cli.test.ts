import { statSync } from 'node:fs';
import { join } from 'node:path';
import { keysCommand } from '../../src/cli/commands/keys.js';
import { tokenCommand } from '../../src/cli/commands/token.js';
import { createJwtValidator } from '../../src/credentials/jwt.js';
import { readKeyStoreFile } from '../../src/credentials/key-store-file.js';
import { createRevocationList } from '../../src/credentials/revocations.js';
import { createRedisStore } from '../../src/stores/redis.js';
import { startOwnRedis, uniquePrefix } from '../helpers/redis.js';
import { tempDir } from '../helpers/server.js';
import { AUDIENCE, auditEvents, JWT_SECRET } from './helpers.js';

function io(env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (text: string) => out.push(text), stderr: (text: string) => err.push(text), env } };
}

describe('mcp-guard keys', () => {
  let dir: ReturnType<typeof tempDir>;
  let env: Record<string, string>;
  beforeEach(() => {
    dir = tempDir();
    env = { MCP_KEY_STORE: join(dir.dir, 'store', 'keys.json'), MCP_AUDIT_DIR: join(dir.dir, 'audit') };
  });
  afterEach(() => dir.remove());

  it('creates a key, prints it once, and stores only its hash in a private file', async () => {
    const run = io(env);
    expect(await keysCommand.run(['create', '--name', 'ci', '--role', 'operator', '--env', 'test'], run.io)).toBe(0);
    const key = /mcpg_test_\S+/.exec(run.out.join(''))![0];
    expect(statSync(env.MCP_KEY_STORE!).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(readKeyStoreFile(env.MCP_KEY_STORE!))).not.toContain(key.slice(-43));
    expect(auditEvents(env.MCP_AUDIT_DIR!).map((event) => event.type)).toEqual(['key.created']);
  });

  it('lists keys without printing a secret', async () => {
    const create = io(env);
    await keysCommand.run(['create', '--name', 'ci', '--role', 'viewer'], create.io);
    const key = /mcpg_live_\S+/.exec(create.out.join(''))![0];
    const list = io(env);
    expect(await keysCommand.run(['list'], list.io)).toBe(0);
    expect(list.out.join('')).toContain('ci');
    expect(list.out.join('')).not.toContain(key.slice(26));
    const json = io(env);
    await keysCommand.run(['list', '--json'], json.io);
    expect(json.out.join('')).not.toMatch(/hash|mcpg_/);
  });

  it('rotates a key with an overlap window and revokes a key', async () => {
    const create = io(env);
    await keysCommand.run(['create', '--name', 'ci', '--role', 'viewer'], create.io);
    const id = readKeyStoreFile(env.MCP_KEY_STORE!).keys[0]!.id;
    const rotate = io(env);
    expect(await keysCommand.run(['rotate', id, '--overlap', '2h'], rotate.io)).toBe(0);
    const [old, fresh] = readKeyStoreFile(env.MCP_KEY_STORE!).keys;
    const overlap = Date.parse(old!.expiresAt!) - Date.now();
    expect(overlap).toBeGreaterThan(2 * 3_600_000 - 60_000);
    expect(overlap).toBeLessThanOrEqual(2 * 3_600_000);
    expect(old!.rotatedTo).toBe(fresh!.id);
    expect(await keysCommand.run(['revoke', fresh!.id], io(env).io)).toBe(0);
    expect(readKeyStoreFile(env.MCP_KEY_STORE!).keys[1]!.revokedAt).toBeDefined();
    expect(auditEvents(env.MCP_AUDIT_DIR!).map((event) => event.type)).toEqual(['key.created', 'key.rotated', 'key.revoked']);
  });

  it('leaves a clear outcome when Redis does not answer during keys revoke: exit 3, a message, an audit record', async () => {
    const redis = await startOwnRedis();
    const prefix = uniquePrefix('cli-revoke');
    try {
      await keysCommand.run(['create', '--name', 'ci', '--role', 'viewer'], io(env).io);
      const id = readKeyStoreFile(env.MCP_KEY_STORE!).keys[0]!.id;
      await redis.stop();
      const down = io({ ...env, REDIS_URL: redis.url, MCP_REDIS_PREFIX: prefix });
      expect(await keysCommand.run(['revoke', id], down.io)).toBe(3);
      expect(down.err.join('')).toMatch(
        /Revoked API key \w+ in the key store file, but Redis did not answer: the revocation was NOT written/,
      );
      expect(down.err.join('')).not.toContain(redis.url);
      expect(readKeyStoreFile(env.MCP_KEY_STORE!).keys[0]!.revokedAt).toBeDefined();
      const failed = auditEvents(env.MCP_AUDIT_DIR!).filter((event) => event.type === 'key.revoked');
      expect(failed).toEqual([expect.objectContaining({ outcome: expect.objectContaining({ code: 'redis_unreachable' }) })]);
      expect(failed[0]!.details).toMatchObject({ keyId: id, file: true, shared: false });

      // Running it again once Redis answers finishes the job.
      await redis.start();
      const up = io({ ...env, REDIS_URL: redis.url, MCP_REDIS_PREFIX: prefix });
      expect(await keysCommand.run(['revoke', id], up.io)).toBe(0);
      expect(up.out.join('')).toContain('every replica');
      const store = await createRedisStore({ url: redis.url, prefix });
      try {
        expect(await createRevocationList(store).isRevoked(id)).toBe(true);
      } finally {
        await store.shutdown();
      }
    } finally {
      await redis.stop();
    }
  }, 30_000);

  it('refuses to create a key with an unknown role', async () => {
    const bad = io(env);
    expect(await keysCommand.run(['create', '--name', 'ci', '--role', 'root'], bad.io)).toBe(1);
    expect(bad.err.join('')).toContain('Unknown role');
  });
});

describe('mcp-guard token issue', () => {
  it('prints a token the server configuration accepts', async () => {
    const run = io({ MCP_JWT_SECRET: JWT_SECRET, MCP_JWT_AUDIENCE: AUDIENCE, MCP_JWT_ISSUER: 'https://issuer.test' });
    expect(await tokenCommand.run(['issue', '--sub', 'ci-bot', '--role', 'operator', '--ttl', '12h'], run.io)).toBe(0);
    const token = run.out.join('').trim();
    const identity = await createJwtValidator({ secret: JWT_SECRET, audience: AUDIENCE, issuer: 'https://issuer.test' })(token);
    expect(identity).toMatchObject({ subject: 'ci-bot', role: 'operator' });
    expect(identity.expiresAt - Date.now() / 1000).toBeGreaterThan(12 * 3600 - 60);
  });

  it('fails without a secret and with a secret under 32 characters', async () => {
    expect(await tokenCommand.run(['issue', '--sub', 'x', '--role', 'viewer'], io({}).io)).toBe(1);
    const short = io({ MCP_JWT_SECRET: 'too-short' });
    expect(await tokenCommand.run(['issue', '--sub', 'x', '--role', 'viewer'], short.io)).toBe(1);
    expect(short.err.join('')).toContain('MCP_JWT_SECRET');
    expect(short.err.join('')).not.toContain('too-short');
  });
});
