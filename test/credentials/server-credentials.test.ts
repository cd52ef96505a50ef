import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { revokeKey } from '../../src/credentials/key-lifecycle.js';
import { updateKeyStoreFile } from '../../src/credentials/key-store-file.js';
import { generateToken } from '../../src/credentials/generate-token.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { AUDIENCE, auditEvents, createStoreKey, eventually, initialize, JWT_SECRET, tokenRequest } from './helpers.js';

describe('a server with a key store, JWTs and the token endpoint', () => {
  let server: TestServer;
  let dir: ReturnType<typeof tempDir>;
  let storePath: string;
  let key: { key: string; id: string };
  beforeAll(async () => {
    dir = tempDir();
    storePath = join(dir.dir, 'keys', 'keys.json');
    key = await createStoreKey(storePath);
    server = await startTestServer({
      MCP_KEY_STORE: storePath,
      MCP_JWT_SECRET: JWT_SECRET,
      MCP_JWT_AUDIENCE: AUDIENCE,
      MCP_LOCKOUT_ATTEMPTS: '0',
    });
  });
  afterAll(async () => {
    await server.stop();
    dir.remove();
  });

  it('publishes protected-resource metadata at the root and path-aware URLs', async () => {
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ resource: server.mcpUrl, authorization_servers: [server.url], bearer_methods_supported: ['header'] });
    }
  });

  it('answers a request without credentials with a challenge naming the metadata and no error code', async () => {
    const response = await initialize(server.mcpUrl, {});
    expect(response.status).toBe(401);
    const challenge = response.headers.get('www-authenticate')!;
    expect(challenge).toBe(`Bearer resource_metadata="${server.url}/.well-known/oauth-protected-resource/mcp"`);
  });

  it('answers a bad token with error="invalid_token" and the metadata URL', async () => {
    const response = await initialize(server.mcpUrl, { Authorization: 'Bearer not-a-valid-token-at-all-0123456789' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(
      /^Bearer error="invalid_token", .*resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"$/,
    );
  });

  it('accepts a key-store key in X-API-Key and as a bearer token', async () => {
    expect((await initialize(server.mcpUrl, { 'X-API-Key': key.key })).status).toBe(200);
    expect((await initialize(server.mcpUrl, { Authorization: `Bearer ${key.key}` })).status).toBe(200);
  });

  it('accepts a JWT for this audience and refuses one for another resource', async () => {
    const ours = generateToken({ secret: JWT_SECRET, subject: 'svc', role: 'viewer', ttlSec: 60, audience: AUDIENCE }).token;
    expect((await initialize(server.mcpUrl, { Authorization: `Bearer ${ours}` })).status).toBe(200);
    const theirs = generateToken({
      secret: JWT_SECRET,
      subject: 'svc',
      role: 'viewer',
      ttlSec: 60,
      audience: 'https://other.test/mcp',
    }).token;
    const refused = await initialize(server.mcpUrl, { Authorization: `Bearer ${theirs}` });
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain('audience');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', role: 'admin', aud: AUDIENCE, exp: 9e9 })).toString('base64url')}.`;
    expect((await initialize(server.mcpUrl, { Authorization: `Bearer ${none}` })).status).toBe(401);
    const audit = auditEvents(server.auditDir).filter((event) => event.type === 'auth.failure');
    expect(audit.map((event) => event.details?.reason)).toEqual(expect.arrayContaining(['wrong_audience', 'algorithm_not_allowed']));
  });

  it('issues an access token for an API key that works on /mcp', async () => {
    const response = await tokenRequest(server.url, { grant_type: 'client_credentials', client_secret: key.key });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as { access_token: string; refresh_token: string; expires_in: number; token_type: string };
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    expect(body.refresh_token).toMatch(/^mcpg_rt_/);
    expect(jwt.decode(body.access_token)).toMatchObject({ sub: `key:${key.id}`, aud: AUDIENCE, role: 'operator' });
    expect((await initialize(server.mcpUrl, { Authorization: `Bearer ${body.access_token}` })).status).toBe(200);
    expect(auditEvents(server.auditDir).some((event) => event.type === 'token.issued')).toBe(true);
  });

  it('refuses a wrong client secret with invalid_client', async () => {
    const response = await tokenRequest(server.url, { grant_type: 'client_credentials', client_secret: `${key.key.slice(0, -2)}xx` });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'invalid_client', error_description: 'Client authentication failed' });
  });

  it('rotates refresh tokens and revokes the whole family when a used one comes back', async () => {
    const first = (await (await tokenRequest(server.url, { grant_type: 'client_credentials', client_secret: key.key })).json()) as {
      refresh_token: string;
    };
    const second = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(second.status).toBe(200);
    const rotated = (await second.json()) as { refresh_token: string; access_token: string };
    expect(rotated.refresh_token).not.toBe(first.refresh_token);
    const reuse = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(reuse.status).toBe(400);
    expect(((await reuse.json()) as { error: string }).error).toBe('invalid_grant');
    const afterReuse = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: rotated.refresh_token });
    expect(afterReuse.status).toBe(400);
    expect(auditEvents(server.auditDir).some((event) => event.type === 'token.reuse_detected')).toBe(true);
  });

  it('refuses an expired key with the reason in the audit log only', async () => {
    const expired = await createStoreKey(storePath, { name: 'expired', ttlMs: 1 });
    const refusedAsExpired = () =>
      auditEvents(server.auditDir).some((event) => event.type === 'auth.failure' && event.details?.reason === 'expired');
    // Until the server has reloaded the store the key is unknown; wait for the refusal that names its expiry.
    const bodies: string[] = [];
    expect(
      await eventually(async () => {
        const response = await initialize(server.mcpUrl, { 'X-API-Key': expired.key });
        expect(response.status).toBe(401);
        bodies.push(await response.text());
        return refusedAsExpired();
      }),
    ).toBe(true);
    for (const body of bodies) expect(body).not.toContain('expired');
  });

  it('ends the access tokens of a key when the key is revoked', async () => {
    const doomed = await createStoreKey(storePath, { name: 'short-lived' });
    expect(
      await eventually(
        async () => (await tokenRequest(server.url, { grant_type: 'client_credentials', client_secret: doomed.key })).status === 200,
      ),
    ).toBe(true);
    const issued = (await (await tokenRequest(server.url, { grant_type: 'client_credentials', client_secret: doomed.key })).json()) as {
      access_token: string;
      refresh_token: string;
    };
    expect((await initialize(server.mcpUrl, { Authorization: `Bearer ${issued.access_token}` })).status).toBe(200);
    await updateKeyStoreFile(storePath, (data) => revokeKey(data, doomed.id));
    expect(
      await eventually(async () => (await initialize(server.mcpUrl, { Authorization: `Bearer ${issued.access_token}` })).status === 401),
    ).toBe(true);
    expect((await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: issued.refresh_token })).status).toBe(400);
  });

  it('refuses a revoked key with a reason in the audit log and none in the response', async () => {
    const doomed = await createStoreKey(storePath, { name: 'doomed' });
    expect(await eventually(async () => (await initialize(server.mcpUrl, { 'X-API-Key': doomed.key })).status === 200)).toBe(true);
    await updateKeyStoreFile(storePath, (data) => revokeKey(data, doomed.id));
    expect(await eventually(async () => (await initialize(server.mcpUrl, { 'X-API-Key': doomed.key })).status === 401)).toBe(true);
    const response = await initialize(server.mcpUrl, { 'X-API-Key': doomed.key });
    expect(await response.text()).not.toMatch(/revoked|expired/);
    const reasons = auditEvents(server.auditDir)
      .filter((event) => event.type === 'auth.failure')
      .map((event) => event.details?.reason);
    expect(reasons).toContain('revoked');
  });
});

describe('a server with a key store file others can read', () => {
  it('refuses to start', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.dir, 'keys.json');
      await createStoreKey(path);
      const { chmodSync } = await import('node:fs');
      chmodSync(path, 0o644);
      await expect(startTestServer({ MCP_KEY_STORE: path })).rejects.toThrow(/other users/);
    } finally {
      dir.remove();
    }
  });
});
