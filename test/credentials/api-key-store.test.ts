import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateApiKey, parseApiKey } from '../../src/credentials/api-key-format.js';
import { checkApiKey, openApiKeyStore } from '../../src/credentials/api-key-store.js';
import { addKey, revokeKey, rotateKey, summarizeKeys } from '../../src/credentials/key-lifecycle.js';
import { readKeyStoreFile, updateKeyStoreFile, writeKeyStoreFile, type KeyStoreData } from '../../src/credentials/key-store-file.js';
import { tempDir } from '../helpers/server.js';

const empty = (): KeyStoreData => ({ version: 1, keys: [] });

describe('API key format', () => {
  it('generates live and test keys with an embedded id and 256 random bits', () => {
    const live = generateApiKey('live');
    const test = generateApiKey('test');
    expect(live.key).toMatch(/^mcpg_live_[0-9a-f]{16}[A-Za-z0-9_-]{43}$/);
    expect(test.key).toMatch(/^mcpg_test_/);
    expect(Buffer.from(live.key.slice(-43), 'base64url')).toHaveLength(32);
    expect(parseApiKey(live.key)).toEqual({ id: live.id, environment: 'live' });
    expect(generateApiKey().key).not.toBe(live.key);
  });

  it('does not take other strings for key-store keys', () => {
    expect(parseApiKey('mcpg_live_short')).toBeUndefined();
    expect(parseApiKey(`${generateApiKey().key}x`)).toBeUndefined();
  });
});

describe('the key lifecycle', () => {
  it('stores only the hash of a new key, never the key', () => {
    const { data, result } = addKey(empty(), { name: 'ci', role: 'operator' });
    expect(JSON.stringify(data)).not.toContain(result.key);
    expect(JSON.stringify(data)).not.toContain(result.key.slice(-43));
    expect(data.keys[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts the right key and refuses unknown, wrong, expired and revoked ones with a reason', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const created = addKey(empty(), { name: 'ci', role: 'operator', ttlMs: 60_000 }, now);
    const record = created.data.keys[0]!;
    const loaded = { record, digest: Buffer.from(record.hash, 'hex') };
    expect(checkApiKey(created.result.key, loaded, '127.0.0.1', now)).toEqual({ ok: true });
    expect(checkApiKey(generateApiKey().key, undefined, '127.0.0.1', now)).toEqual({ ok: false, reason: 'unknown_key' });
    const wrong = `${created.result.key.slice(0, -1)}${created.result.key.endsWith('A') ? 'B' : 'A'}`;
    expect(checkApiKey(wrong, loaded, '127.0.0.1', now)).toEqual({ ok: false, reason: 'mismatch' });
    expect(checkApiKey(created.result.key, loaded, '127.0.0.1', now + 60_000)).toEqual({ ok: false, reason: 'expired' });
    const revoked = revokeKey(created.data, record.id, now).result;
    expect(checkApiKey(created.result.key, { record: revoked, digest: loaded.digest }, '127.0.0.1', now)).toEqual({
      ok: false,
      reason: 'revoked',
    });
  });

  it('honours the rotation overlap window and gives the new key the same role', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const created = addKey(empty(), { name: 'ci', role: 'viewer', tenant: 'acme' }, now);
    const rotated = rotateKey(created.data, created.result.record.id, 3_600_000, now);
    const old = rotated.data.keys.find((key) => key.id === created.result.record.id)!;
    const loadedOld = { record: old, digest: Buffer.from(old.hash, 'hex') };
    expect(checkApiKey(created.result.key, loadedOld, undefined, now + 3_599_000)).toEqual({ ok: true });
    expect(checkApiKey(created.result.key, loadedOld, undefined, now + 3_600_000)).toEqual({ ok: false, reason: 'expired' });
    expect(rotated.result.record).toMatchObject({ name: 'ci', role: 'viewer', tenant: 'acme' });
    expect(old.rotatedTo).toBe(rotated.result.record.id);
    expect(rotated.result.record.expiresAt).toBeUndefined();
  });

  it('refuses a key used outside its CIDR allowlist', () => {
    const created = addKey(empty(), { name: 'ci', role: 'operator', cidrs: ['10.0.0.0/8'] });
    const dir = tempDir();
    try {
      const path = join(dir.dir, 'keys.json');
      writeKeyStoreFile(path, created.data);
      const store = openApiKeyStore({ path, watch: false, usageFlushMs: 0 });
      const loaded = store.lookup(created.result.record.id);
      expect(checkApiKey(created.result.key, loaded, '10.1.2.3')).toEqual({ ok: true });
      expect(checkApiKey(created.result.key, loaded, '::ffff:10.1.2.3')).toEqual({ ok: true });
      expect(checkApiKey(created.result.key, loaded, '192.168.1.1')).toEqual({ ok: false, reason: 'ip_not_allowed' });
    } finally {
      dir.remove();
    }
  });

  it('lists keys without their hashes', () => {
    const created = addKey(empty(), { name: 'ci', role: 'operator' });
    const listed = summarizeKeys(created.data);
    expect(listed[0]).not.toHaveProperty('hash');
    expect(listed[0]!.status).toBe('active');
  });
});

describe('the key-store file', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.remove());

  it('is written with mode 0600 in a directory created with mode 0700', async () => {
    const path = join(dir.dir, 'state', 'keys.json');
    await updateKeyStoreFile(path, (data) => addKey(data, { name: 'ci', role: 'operator' }));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir.dir, 'state')).mode & 0o777).toBe(0o700);
    expect(readKeyStoreFile(path).keys).toHaveLength(1);
  });

  it('is refused when other users may read it', () => {
    const path = join(dir.dir, 'keys.json');
    writeKeyStoreFile(path, empty());
    chmodSync(path, 0o644);
    expect(() => readKeyStoreFile(path)).toThrow(/accessible by other users/);
    expect(() => openApiKeyStore({ path, watch: false })).toThrow(/chmod 600/);
  });

  it('is refused when its directory is writable by other users', () => {
    const path = join(dir.dir, 'keys.json');
    writeKeyStoreFile(path, empty());
    chmodSync(dir.dir, 0o777);
    expect(() => readKeyStoreFile(path)).toThrow(/chmod 700/);
    chmodSync(dir.dir, 0o700);
  });

  it('is refused when it is malformed, without quoting it', () => {
    const path = join(dir.dir, 'keys.json');
    writeFileSync(path, '{"version":1,"keys":[{"secret":"mcpg_live_leak"}]}', { mode: 0o600 });
    expect(() => readKeyStoreFile(path)).toThrow(/expected format/);
    try {
      readKeyStoreFile(path);
    } catch (error) {
      expect((error as Error).message).not.toContain('leak');
    }
  });

  it('is reloaded when it changes, so a revocation takes effect without a restart', async () => {
    const path = join(dir.dir, 'keys.json');
    const { record } = await updateKeyStoreFile(path, (data) => addKey(data, { name: 'ci', role: 'operator' }));
    const reloaded: number[] = [];
    const store = openApiKeyStore({ path, usageFlushMs: 0, onReload: (count) => reloaded.push(count) });
    try {
      expect(store.lookup(record.id)?.record.revokedAt).toBeUndefined();
      await updateKeyStoreFile(path, (data) => revokeKey(data, record.id));
      const deadline = Date.now() + 3000;
      while (!store.lookup(record.id)?.record.revokedAt && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(store.lookup(record.id)?.record.revokedAt).toBeDefined();
    } finally {
      await store.close();
    }
  });

  it('refuses every key once a reload finds the file unsafe', async () => {
    const path = join(dir.dir, 'keys.json');
    const { record } = await updateKeyStoreFile(path, (data) => addKey(data, { name: 'ci', role: 'operator' }));
    const errors: unknown[] = [];
    const store = openApiKeyStore({ path, watch: false, usageFlushMs: 0, onError: (error) => errors.push(error) });
    chmodSync(path, 0o640);
    expect(() => store.reload()).toThrow();
    expect(store.lookup(record.id)).toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});
