import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { createJwksCache } from '../../src/credentials/jwks.js';
import { generateToken } from '../../src/credentials/generate-token.js';
import { createJwtValidator, JwtError, type JwtFailure } from '../../src/credentials/jwt.js';

const SECRET = 'jwt-secret-0123456789abcdef0123456789abcdef';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const now = () => Math.floor(Date.now() / 1000);

async function reasonOf(promise: Promise<unknown>): Promise<JwtFailure | 'accepted'> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (error instanceof JwtError) return error.reason;
    throw error;
  }
}

function unsigned(payload: object): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}

describe('the JWT validator', () => {
  const validate = createJwtValidator({
    secret: SECRET,
    publicKey: publicPem,
    issuer: 'https://auth.test',
    audience: 'https://mcp.test/mcp',
  });
  const claims = { sub: 'alice', role: 'operator', iss: 'https://auth.test', aud: 'https://mcp.test/mcp' };

  it('accepts an HS256 token for this audience and reads role, scopes and tenant', async () => {
    const token = jwt.sign({ ...claims, scope: 'tools:list kv:read', tenant: 'acme' }, SECRET, { algorithm: 'HS256', expiresIn: 60 });
    await expect(validate(token)).resolves.toMatchObject({
      subject: 'alice',
      role: 'operator',
      permissions: ['tools:list', 'kv:read'],
      tenant: 'acme',
    });
  });

  it('accepts an RS256 token signed with the private key', async () => {
    const token = jwt.sign(claims, rsa.privateKey, { algorithm: 'RS256', expiresIn: 60 });
    await expect(validate(token)).resolves.toMatchObject({ subject: 'alice' });
  });

  it('refuses alg none', async () => {
    expect(await reasonOf(validate(unsigned({ ...claims, exp: now() + 60 })))).toBe('algorithm_not_allowed');
  });

  it('refuses an HS256 token signed with the RSA public key (algorithm confusion)', async () => {
    const forged = jwt.sign({ ...claims, exp: now() + 60 }, publicPem, { algorithm: 'HS256' });
    expect(await reasonOf(validate(forged))).toBe('bad_signature');
    const publicOnly = createJwtValidator({ publicKey: publicPem });
    expect(await reasonOf(publicOnly(forged))).toBe('algorithm_not_allowed');
  });

  it('refuses an RS384 token and an ES256 token for an RSA key', async () => {
    expect(await reasonOf(validate(jwt.sign(claims, rsa.privateKey, { algorithm: 'RS384', expiresIn: 60 })))).toBe('algorithm_not_allowed');
    expect(await reasonOf(validate(jwt.sign(claims, ec.privateKey, { algorithm: 'ES256', expiresIn: 60 })))).toBe('algorithm_not_allowed');
  });

  it('refuses a wrong audience and a wrong issuer', async () => {
    const other = jwt.sign({ ...claims, aud: 'https://other.test/mcp' }, SECRET, { algorithm: 'HS256', expiresIn: 60 });
    expect(await reasonOf(validate(other))).toBe('wrong_audience');
    const foreign = jwt.sign({ ...claims, iss: 'https://evil.test' }, SECRET, { algorithm: 'HS256', expiresIn: 60 });
    expect(await reasonOf(validate(foreign))).toBe('wrong_issuer');
  });

  it('refuses expired and not-yet-valid tokens beyond the clock skew, and accepts within it', async () => {
    const expired = jwt.sign({ ...claims, exp: now() - 120 }, SECRET, { algorithm: 'HS256' });
    expect(await reasonOf(validate(expired))).toBe('expired');
    const early = jwt.sign({ ...claims, nbf: now() + 120, exp: now() + 600 }, SECRET, { algorithm: 'HS256' });
    expect(await reasonOf(validate(early))).toBe('not_yet_valid');
    const justExpired = jwt.sign({ ...claims, exp: now() - 5 }, SECRET, { algorithm: 'HS256' });
    expect(await reasonOf(validate(justExpired))).toBe('accepted');
  });

  it('refuses a token without exp or with a malformed claim', async () => {
    expect(await reasonOf(validate(jwt.sign(claims, SECRET, { algorithm: 'HS256' })))).toBe('invalid_claims');
    const bad = jwt.sign({ ...claims, role: { admin: true } }, SECRET, { algorithm: 'HS256', expiresIn: 60 });
    expect(await reasonOf(validate(bad))).toBe('invalid_claims');
  });

  it('refuses a token with a crit header, which it cannot understand (RFC 7515)', async () => {
    const header = { alg: 'HS256', typ: 'JWT', crit: ['exp'] };
    const critical = jwt.sign({ ...claims, exp: now() + 60 }, SECRET, { algorithm: 'HS256', header } as jwt.SignOptions);
    expect(jwt.decode(critical, { complete: true })?.header).toHaveProperty('crit');
    expect(await reasonOf(validate(critical))).toBe('unsupported_crit');
    const b64 = jwt.sign({ ...claims, exp: now() + 60 }, SECRET, {
      algorithm: 'HS256',
      header: { alg: 'HS256', b64: false, crit: ['b64'] },
    } as jwt.SignOptions);
    expect(await reasonOf(validate(b64))).toBe('unsupported_crit');
  });

  it('reads role, scopes and tenant from configured claims', async () => {
    const custom = createJwtValidator({ secret: SECRET, claims: { role: 'https://mcp/role', permissions: 'perms', tenant: 'org' } });
    const token = jwt.sign({ sub: 'bob', 'https://mcp/role': 'viewer', perms: ['kv:read'], org: 'o1' }, SECRET, {
      algorithm: 'HS256',
      expiresIn: 60,
    });
    await expect(custom(token)).resolves.toMatchObject({ role: 'viewer', permissions: ['kv:read'], tenant: 'o1' });
  });

  it('accepts tokens from generateToken with the same secret, issuer and audience', async () => {
    const { token } = generateToken({
      secret: SECRET,
      subject: 'svc',
      role: 'viewer',
      ttlSec: 3600,
      issuer: 'https://auth.test',
      audience: 'https://mcp.test/mcp',
    });
    await expect(validate(token)).resolves.toMatchObject({ subject: 'svc', role: 'viewer' });
  });

  it('fails at creation for a short secret or an unsupported public key', () => {
    expect(() => createJwtValidator({ secret: 'short' })).toThrow(/secret/);
    const small = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
    expect(() => createJwtValidator({ publicKey: small })).toThrow(/publicKey/);
  });
});

describe('the JWKS cache', () => {
  let server: Server;
  let uri: string;
  let keys: Array<{ kid: string; key: KeyObject }> = [];
  let requests = 0;
  // Bytes of padding after the keys (valid JSON either way), and what the server managed to send.
  let padding = 0;
  let sent = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      requests += 1;
      res.setHeader('Content-Type', 'application/json');
      const body = JSON.stringify({ keys: keys.map(({ kid, key }) => ({ ...key.export({ format: 'jwk' }), kid, use: 'sig' })) });
      if (padding === 0) return void res.end(body);
      // A huge answer, streamed without Content-Length until the client stops reading.
      sent = 0;
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let left = padding;
      res.write(body.slice(0, -1));
      const pump = (): void => {
        while (left > 0) {
          left -= chunk.length;
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end('}');
      };
      res.once('close', () => (left = 0));
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('accepts a token signed with a rotated-in key once the new kid is seen', async () => {
    const first = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const second = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keys = [{ kid: 'k1', key: first.publicKey }];
    const validate = createJwtValidator({ jwks: createJwksCache({ uri, minRefetchIntervalMs: 0 }) });
    const one = jwt.sign({ sub: 'a', role: 'viewer' }, first.privateKey, { algorithm: 'RS256', keyid: 'k1', expiresIn: 60 });
    await expect(validate(one)).resolves.toMatchObject({ subject: 'a' });
    keys = [
      { kid: 'k1', key: first.publicKey },
      { kid: 'k2', key: second.publicKey },
    ];
    const two = jwt.sign({ sub: 'b', role: 'viewer' }, second.privateKey, { algorithm: 'ES256', keyid: 'k2', expiresIn: 60 });
    await expect(validate(two)).resolves.toMatchObject({ subject: 'b' });
    const confused = jwt.sign({ sub: 'c', role: 'viewer' }, second.privateKey, { algorithm: 'ES256', keyid: 'k1', expiresIn: 60 });
    expect(await reasonOf(validate(confused))).toBe('algorithm_not_allowed');
  });

  it('refetches at a bounded rate however many unknown kids arrive', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys = [{ kid: 'k1', key: pair.publicKey }];
    const jwks = createJwksCache({ uri, minRefetchIntervalMs: 60_000 });
    const validate = createJwtValidator({ jwks });
    const before = requests;
    for (let i = 0; i < 20; i += 1) {
      const forged = jwt.sign({ sub: 'x' }, pair.privateKey, { algorithm: 'RS256', keyid: `unknown-${i}`, expiresIn: 60 });
      expect(await reasonOf(validate(forged))).toBe('unknown_kid');
    }
    expect(requests - before).toBe(1);
    expect(jwks.fetches()).toBe(1);
  });

  it('abandons a JWKS answer larger than its cap instead of reading it into memory', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys = [{ kid: 'big', key: pair.publicKey }];
    padding = 64 * 1024 * 1024;
    try {
      const jwks = createJwksCache({ uri, minRefetchIntervalMs: 0, maxBytes: 256 * 1024 });
      const token = jwt.sign({ sub: 'x', role: 'viewer' }, pair.privateKey, { algorithm: 'RS256', keyid: 'big', expiresIn: 60 });
      expect(await reasonOf(createJwtValidator({ jwks })(token))).toBe('unknown_kid');
      // The client stopped reading after its cap: the server never got to send its 64 MiB.
      expect(sent).toBeLessThan(8 * 1024 * 1024);
    } finally {
      padding = 0;
    }
  });

  it('stops trusting a key the JWKS no longer lists once the keys reach their maximum age', async () => {
    const first = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const second = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys = [{ kid: 'old', key: first.publicKey }];
    let t = 1_000_000;
    const jwks = createJwksCache({ uri, minRefetchIntervalMs: 1000, maxAgeMs: 60_000, now: () => t });
    const validate = createJwtValidator({ jwks });
    const old = jwt.sign({ sub: 'a', role: 'viewer' }, first.privateKey, { algorithm: 'RS256', keyid: 'old', expiresIn: 3600 });
    await expect(validate(old)).resolves.toMatchObject({ subject: 'a' });
    // The authorization server revokes the key: it disappears from the JWKS.
    keys = [{ kid: 'new', key: second.publicKey }];
    t += 20_000;
    await expect(validate(old)).resolves.toMatchObject({ subject: 'a' }); // still young: no refetch yet
    t += 50_000; // 70 s: past the maximum age
    expect(await reasonOf(validate(old))).toBe('unknown_kid');
    const fresh = jwt.sign({ sub: 'b', role: 'viewer' }, second.privateKey, { algorithm: 'RS256', keyid: 'new', expiresIn: 3600 });
    await expect(validate(fresh)).resolves.toMatchObject({ subject: 'b' });
  });

  it('drops its keys at their maximum age when the JWKS cannot be fetched (fail closed)', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys = [{ kid: 'k', key: pair.publicKey }];
    let t = 0;
    let reachable = true;
    const jwks = createJwksCache({
      uri,
      minRefetchIntervalMs: 1000,
      maxAgeMs: 60_000,
      now: () => t,
      fetch: (input, init) => (reachable ? fetch(input, init) : Promise.reject(new Error('connect ECONNREFUSED'))),
    });
    const validate = createJwtValidator({ jwks });
    const token = jwt.sign({ sub: 'a', role: 'viewer' }, pair.privateKey, { algorithm: 'RS256', keyid: 'k', expiresIn: 3600 });
    await expect(validate(token)).resolves.toMatchObject({ subject: 'a' });
    reachable = false;
    t += 45_000; // past half the age: a background refetch fails, the known key keeps working
    await expect(validate(token)).resolves.toMatchObject({ subject: 'a' });
    t += 20_000;
    expect(await reasonOf(validate(token))).toBe('unknown_kid');
  });
});
