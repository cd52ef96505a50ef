import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { generateSigningKey, readSigningKeys, SigningKeyError } from '../../src/auth-server/keys.js';
import { INITIALIZE, MCP_POST_HEADERS, tempDir } from '../helpers/server.js';
import { close, createBrowser, listen, reserve, startAuthServer, startUpstream, type AuthServerFixture } from './helpers.js';

describe('the signing keys file', () => {
  const dir = tempDir('mcpg-keys-');
  afterAll(() => dir.remove());
  const write = (name: string, content: unknown, mode = 0o600) => {
    const path = join(dir.dir, name);
    writeFileSync(path, JSON.stringify(content));
    chmodSync(path, mode);
    return path;
  };

  it('publishes only public members, with kid, alg and use', () => {
    const keys = readSigningKeys(write('ok.json', { keys: [generateSigningKey()] }));
    expect(Object.keys(keys.publicJwks.keys[0]!).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  });

  it.each([
    ['a file others can read', () => write('open.json', { keys: [generateSigningKey()] }, 0o644), /chmod 600/],
    ['no keys', () => write('empty.json', { keys: [] }), /1 to 10/],
    ['a public key only', () => write('public.json', { keys: [{ ...generateSigningKey(), d: undefined }] }), /not a private JWK/],
    [
      'duplicate kids',
      () =>
        write('dup.json', {
          keys: [
            { ...generateSigningKey(), kid: 'same-kid-1' },
            { ...generateSigningKey(), kid: 'same-kid-1' },
          ],
        }),
      /unique/,
    ],
    ['a P-384 key', () => write('p384.json', { keys: [{ ...generateSigningKey(), crv: 'P-384' }] }), /./],
  ])('refuses %s', (_name, path, message) => {
    expect(() => readSigningKeys(path())).toThrow(SigningKeyError);
    expect(() => readSigningKeys(path())).toThrow(message);
  });
});

describe('rotating the signing keys without a restart', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let as: AuthServerFixture;
  let redirect: Server;
  let redirectUrl: string;
  let clientId: string;
  const first = generateSigningKey();
  const second = generateSigningKey();

  beforeAll(async () => {
    redirect = createServer((_req, res) => res.end('done'));
    redirectUrl = `http://127.0.0.1:${await listen(redirect)}/callback`;
    const reserved = await reserve();
    upstream = await startUpstream({ alice: { email: 'alice@example.com', email_verified: true } }, [`${reserved.url}/auth/callback`]);
    as = await startAuthServer(upstream, {}, { server: reserved.server, keys: [first] });
    const registered = await fetch(`${as.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [redirectUrl],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
      }),
    });
    clientId = ((await registered.json()) as { client_id: string }).client_id;
  });
  afterAll(async () => {
    await as?.stop();
    await Promise.all([upstream?.stop(), close(redirect)]);
  });

  const signIn = async () => {
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL(`${as.url}/auth/authorize`);
    for (const [k, v] of Object.entries({
      client_id: clientId,
      redirect_uri: redirectUrl,
      response_type: 'code',
      scope: 'tools:list',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }))
      url.searchParams.set(k, v);
    const back = await createBrowser().signIn(url.href, redirectUrl, 'alice');
    const response = await fetch(`${as.url}/auth/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: clientId,
        code: back.searchParams.get('code')!,
        code_verifier: verifier,
        redirect_uri: redirectUrl,
      }),
    });
    return ((await response.json()) as { access_token: string }).access_token;
  };
  const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
  const accepted = async (token: string) =>
    (
      await fetch(as.mcpUrl, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, ...MCP_POST_HEADERS },
        body: JSON.stringify(INITIALIZE),
      })
    ).status;
  const published = async () => ((await (await fetch(`${as.url}/auth/jwks`)).json()) as { keys: Array<{ kid: string; d?: string }> }).keys;

  it('publishes a new key first, signs with it next, keeps old tokens valid, then retires the old key', async () => {
    const old = await signIn();
    expect(kidOf(old)).toBe(first.kid);

    // 1. Add the new key at the end: published, not yet signing.
    as.writeKeys([first, second]);
    as.guard.reloadCredentials();
    expect((await published()).map((key) => key.kid)).toEqual([first.kid, second.kid]);
    expect(kidOf(await signIn())).toBe(first.kid);

    // 2. Move it first: it signs; tokens from the old key still pass.
    as.writeKeys([second, first]);
    as.guard.reloadCredentials();
    const fresh = await signIn();
    expect(kidOf(fresh)).toBe(second.kid);
    expect(await accepted(old)).toBe(200);
    expect(await accepted(fresh)).toBe(200);

    // 3. Retire the old key once its tokens have expired: they stop working, the new ones do not.
    as.writeKeys([second]);
    as.guard.reloadCredentials();
    expect((await published()).map((key) => key.kid)).toEqual([second.kid]);
    expect((await published()).every((key) => key.d === undefined)).toBe(true);
    expect(await accepted(old)).toBe(401);
    expect(await accepted(fresh)).toBe(200);
  });

  it('keeps the keys it has when the file is broken at reload', async () => {
    const before = await signIn();
    writeFileSync(as.keysFile, '{ not json');
    as.guard.reloadCredentials();
    expect(await accepted(before)).toBe(200);
    expect(kidOf(await signIn())).toBe(kidOf(before));
  });
});
