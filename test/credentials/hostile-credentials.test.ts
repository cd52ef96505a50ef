import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { generateApiKey } from '../../src/credentials/api-key-format.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { AUDIENCE, createStoreKey, initialize, JWT_SECRET } from './helpers.js';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const claims = { sub: 'mallory', role: 'admin', aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 };

describe('hostile credentials against a server with a key store, a JWT secret and an RSA public key', () => {
  let server: TestServer;
  let dir: ReturnType<typeof tempDir>;
  let key: { key: string; id: string };
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  beforeAll(async () => {
    dir = tempDir();
    const storePath = join(dir.dir, 'keys.json');
    key = await createStoreKey(storePath);
    const pemPath = join(dir.dir, 'jwt.pem');
    writeFileSync(pemPath, publicPem);
    server = await startTestServer({
      MCP_KEY_STORE: storePath,
      MCP_JWT_SECRET: JWT_SECRET,
      MCP_JWT_PUBLIC_KEY_FILE: pemPath,
      MCP_JWT_AUDIENCE: AUDIENCE,
      MCP_LOCKOUT_ATTEMPTS: '0',
    });
  });
  afterAll(async () => {
    await server.stop();
    dir.remove();
  });

  const hostile: Array<[string, () => Record<string, string>]> = [
    ['alg none', () => ({ Authorization: `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.` })],
    ['alg None with a signature', () => ({ Authorization: `Bearer ${b64({ alg: 'None' })}.${b64(claims)}.c2ln` })],
    ['HS256 signed with the RSA public key', () => ({ Authorization: `Bearer ${jwt.sign(claims, publicPem, { algorithm: 'HS256' })}` })],
    ['HS512 with the right secret', () => ({ Authorization: `Bearer ${jwt.sign(claims, JWT_SECRET, { algorithm: 'HS512' })}` })],
    [
      'RS256 with a foreign key',
      () => ({
        Authorization: `Bearer ${jwt.sign(claims, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, { algorithm: 'RS256' })}`,
      }),
    ],
    [
      'a path in kid',
      () => ({ Authorization: `Bearer ${jwt.sign(claims, JWT_SECRET, { algorithm: 'HS256', keyid: '../../etc/passwd' })}x` }),
    ],
    [
      'a JWT for another audience',
      () => ({ Authorization: `Bearer ${jwt.sign({ ...claims, aud: 'https://evil.test/mcp' }, JWT_SECRET, { algorithm: 'HS256' })}` }),
    ],
    [
      'a JWT without exp',
      () => ({ Authorization: `Bearer ${jwt.sign({ sub: 'm', role: 'admin', aud: AUDIENCE }, JWT_SECRET, { algorithm: 'HS256' })}` }),
    ],
    [
      'a JWT with a tampered payload',
      () => {
        const [header, , signature] = jwt.sign(claims, JWT_SECRET, { algorithm: 'HS256' }).split('.');
        return { Authorization: `Bearer ${header}.${b64({ ...claims, role: 'admin', sub: 'root' })}.${signature}` };
      },
    ],
    ['an unknown key-store key', () => ({ 'X-API-Key': generateApiKey().key })],
    ['a key-store key with a wrong secret', () => ({ 'X-API-Key': `${key.key.slice(0, 26)}${'A'.repeat(43)}` })],
    ['a test key with a live key id', () => ({ 'X-API-Key': key.key.replace('mcpg_live_', 'mcpg_test_') })],
    ['a refresh token as a bearer', () => ({ Authorization: `Bearer mcpg_rt_${'A'.repeat(43)}` })],
    ['Basic credentials', () => ({ Authorization: `Basic ${Buffer.from(`x:${key.key}`).toString('base64')}` })],
    ['a bearer token with a trailing NUL-like escape', () => ({ Authorization: `Bearer ${key.key}%00` })],
  ];

  it.each(hostile)('refuses %s with 401 and a message that tells nothing', async (_name, headers) => {
    const response = await initialize(server.mcpUrl, headers());
    expect(response.status).toBe(401);
    const text = await response.text();
    expect(text).not.toMatch(/expired|revoked|audience|algorithm|signature|kid|mismatch|unknown/i);
    expect(text).not.toContain(key.key);
  });

  it('accepts the genuine key and RS256 token next to them', async () => {
    expect((await initialize(server.mcpUrl, { 'X-API-Key': key.key })).status).toBe(200);
    const token = jwt.sign({ ...claims, role: 'viewer' }, rsa.privateKey, { algorithm: 'RS256' });
    expect((await initialize(server.mcpUrl, { Authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it('ignores an access token in the query string', async () => {
    const token = jwt.sign(claims, JWT_SECRET, { algorithm: 'HS256' });
    expect((await initialize(`${server.mcpUrl}?access_token=${token}`, {})).status).toBe(401);
  });
});
