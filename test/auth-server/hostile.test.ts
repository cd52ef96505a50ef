import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { IssuerMismatchError, StreamableHTTPClientTransport, Client, UnauthorizedError } from '@modelcontextprotocol/client';
import { importJWK, SignJWT } from 'jose';
import {
  close,
  createBrowser,
  listen,
  reserve,
  startAuthServer,
  startCimdServer,
  startUpstream,
  TestOAuthProvider,
  type AuthServerFixture,
} from './helpers.js';
import { INITIALIZE, MCP_POST_HEADERS } from '../helpers/server.js';

const USERS = {
  alice: { email: 'alice@example.com', email_verified: true, groups: ['staff'] },
  mallory: { email: 'mallory@elsewhere.test', email_verified: true },
};

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

describe('the authorization server under attack', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let cimd: Awaited<ReturnType<typeof startCimdServer>>;
  let as: AuthServerFixture;
  let redirect: Server;
  let redirectUrl: string;
  let clientId: string;

  const register = async (metadata: Record<string, unknown>) => {
    const response = await fetch(`${as.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], ...metadata }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };
  const authorizeUrl = (params: Record<string, string>) => {
    const url = new URL(`${as.url}/auth/authorize`);
    for (const [name, value] of Object.entries({
      response_type: 'code',
      scope: 'tools:list tools:call',
      resource: as.mcpUrl,
      state: 's1',
      ...params,
    }))
      if (value !== '') url.searchParams.set(name, value);
    return url;
  };
  const token = async (params: Record<string, string>) => {
    const response = await fetch(`${as.url}/auth/token`, { method: 'POST', body: new URLSearchParams(params) });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };
  /** A full sign-in as alice: the code, its verifier, and the redirect it came back on. */
  const codeFor = async (client = clientId, uri = redirectUrl) => {
    const { verifier, challenge } = pkce();
    const back = await createBrowser().signIn(
      authorizeUrl({ client_id: client, redirect_uri: uri, code_challenge: challenge, code_challenge_method: 'S256' }).href,
      uri,
      'alice',
    );
    return { code: back.searchParams.get('code')!, verifier, back };
  };
  const tokensFor = async () => {
    const { code, verifier } = await codeFor();
    const issued = await token({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      client_id: clientId,
      redirect_uri: redirectUrl,
      resource: as.mcpUrl,
    });
    expect(issued.status).toBe(200);
    return issued.body;
  };
  // 200 when the token opens an MCP session, 401 when it is refused.
  const mcpStatus = async (accessToken: string) =>
    (
      await fetch(as.mcpUrl, {
        method: 'POST',
        headers: { Authorization: `Bearer ${accessToken}`, ...MCP_POST_HEADERS },
        body: JSON.stringify(INITIALIZE),
      })
    ).status;

  beforeAll(async () => {
    redirect = createServer((_req, res) => res.end('done'));
    redirectUrl = `http://127.0.0.1:${await listen(redirect)}/callback`;
    const reserved = await reserve();
    upstream = await startUpstream(USERS, [`${reserved.url}/auth/callback`]);
    cimd = await startCimdServer((req, res) => {
      if (req.url === '/huge.json') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(`{"client_id":"x","pad":"${'a'.repeat(1024 * 1024)}"}`);
        return true;
      }
      return false;
    });
    as = await startAuthServer(upstream, { MCP_AUTH_SERVER_REGISTRATIONS_PER_HOUR: '1000' }, { server: reserved.server });
    const registered = await register({ client_name: 'hostile-test', redirect_uris: [redirectUrl], application_type: 'native' });
    clientId = registered.body.client_id!;
  });
  afterAll(async () => {
    await as?.stop();
    await Promise.all([upstream?.stop(), cimd?.stop(), close(redirect)]);
  });

  describe('redirect-URI tricks', () => {
    const port = () => new URL(redirectUrl).port;
    it.each([
      ['a longer path', (u: string) => `${u}/extra`],
      ['a path with a suffix', (u: string) => `${u}x`],
      ['an added query', (u: string) => `${u}?next=https://evil.test`],
      ['another host', () => `http://evil.test:${port()}/callback`],
      ['a look-alike host', () => `http://127.0.0.1.evil.test:${port()}/callback`],
      ['userinfo before another host', () => `http://127.0.0.1:${port()}@evil.test/callback`],
      ['https instead of http', (u: string) => u.replace('http:', 'https:')],
      ['localhost instead of 127.0.0.1', (u: string) => u.replace('127.0.0.1', 'localhost')],
      ['an encoded path', (u: string) => u.replace('/callback', '/%63allback')],
    ])('never redirects to a redirect URI with %s', async (_name, variant) => {
      const { challenge } = pkce();
      const target = variant(redirectUrl);
      const response = await fetch(
        authorizeUrl({ client_id: clientId, redirect_uri: target, code_challenge: challenge, code_challenge_method: 'S256' }),
        {
          redirect: 'manual',
        },
      );
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).not.toContain(target);
    });

    it('lets a native client use another loopback port (RFC 8252), and only that', async () => {
      const { challenge } = pkce();
      const otherPort = redirectUrl.replace(/:\d+\//, ':9/');
      const response = await fetch(
        authorizeUrl({ client_id: clientId, redirect_uri: otherPort, code_challenge: challenge, code_challenge_method: 'S256' }),
        {
          redirect: 'manual',
        },
      );
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toMatch(/^\/auth\/interaction\//);
    });

    it('holds a web client to its exact redirect URI, port included', async () => {
      const web = await register({ client_name: 'web', redirect_uris: ['https://app.example.test/cb'], application_type: 'web' });
      const { challenge } = pkce();
      const response = await fetch(
        authorizeUrl({
          client_id: web.body.client_id!,
          redirect_uri: 'https://app.example.test:8443/cb',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        }),
        { redirect: 'manual' },
      );
      expect(response.status).toBe(400);
    });
  });

  describe('PKCE', () => {
    it('refuses an authorization request without a code challenge, answering the client with iss', async () => {
      const response = await fetch(authorizeUrl({ client_id: clientId, redirect_uri: redirectUrl }), { redirect: 'manual' });
      const location = new URL(response.headers.get('location')!);
      expect(location.href.startsWith(redirectUrl)).toBe(true);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('iss')).toBe(as.url);
    });

    it('refuses the plain method (a downgrade)', async () => {
      const response = await fetch(
        authorizeUrl({ client_id: clientId, redirect_uri: redirectUrl, code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }),
        {
          redirect: 'manual',
        },
      );
      const location = new URL(response.headers.get('location')!);
      expect(location.searchParams.get('error')).toBe('invalid_request');
    });

    it('refuses a code redeemed without its verifier, with the challenge as verifier, or with another verifier', async () => {
      const { code, verifier } = await codeFor();
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      for (const attempt of [{}, { code_verifier: challenge }, { code_verifier: pkce().verifier }] as Array<Record<string, string>>) {
        const result = await token({ grant_type: 'authorization_code', code, client_id: clientId, redirect_uri: redirectUrl, ...attempt });
        expect(result).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      }
    });
  });

  it('refuses a replayed code and revokes what the first redemption issued', async () => {
    const { code, verifier } = await codeFor();
    const params = { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: redirectUrl };
    const first = await token(params);
    expect(first.status).toBe(200);
    expect(await mcpStatus(first.body.access_token!)).toBe(200);
    const replay = await token(params);
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await mcpStatus(first.body.access_token!)).toBe(401);
    expect((await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token!, client_id: clientId })).body.error).toBe(
      'invalid_grant',
    );
  });

  it('lets only one of two concurrent redemptions of a code win', async () => {
    const { code, verifier } = await codeFor();
    const params = { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: redirectUrl };
    const results = await Promise.all([token(params), token(params), token(params)]);
    expect(results.filter((result) => result.status === 200).length).toBeLessThanOrEqual(1);
    for (const result of results.filter((r) => r.status === 200)) expect(await mcpStatus(result.body.access_token!)).toBe(401);
  });

  it('detects a reused refresh token: the whole grant dies, the newest tokens with it', async () => {
    const first = await tokensFor();
    const rotated = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: clientId });
    expect(rotated.status).toBe(200);
    expect(rotated.body.refresh_token).not.toBe(first.refresh_token);
    expect(await mcpStatus(rotated.body.access_token!)).toBe(200);
    const reuse = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: clientId });
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await token({ grant_type: 'refresh_token', refresh_token: rotated.body.refresh_token!, client_id: clientId })).body.error).toBe(
      'invalid_grant',
    );
    expect(await mcpStatus(rotated.body.access_token!)).toBe(401);
    const audit = readFileSync(`${as.dir}/${readdirAudit(as.dir)}`, 'utf8');
    expect(audit).toContain('token.reuse_detected');
  });

  it('revokes a refresh token (RFC 7009) and with it the access tokens of its grant', async () => {
    const issued = await tokensFor();
    const revoked = await fetch(`${as.url}/auth/revoke`, {
      method: 'POST',
      body: new URLSearchParams({ token: issued.refresh_token!, client_id: clientId }),
    });
    expect(revoked.status).toBe(200);
    expect(await mcpStatus(issued.access_token!)).toBe(401);
    expect((await token({ grant_type: 'refresh_token', refresh_token: issued.refresh_token!, client_id: clientId })).body.error).toBe(
      'invalid_grant',
    );
  });

  it('issues tokens for this MCP endpoint only (RFC 8707)', async () => {
    const { challenge } = pkce();
    const response = await fetch(
      authorizeUrl({
        client_id: clientId,
        redirect_uri: redirectUrl,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        resource: 'https://other.example/mcp',
      }),
      { redirect: 'manual' },
    );
    expect(new URL(response.headers.get('location')!).searchParams.get('error')).toBe('invalid_target');
  });

  it('refuses a token signed with its own key for another audience, or without a live grant', async () => {
    const issued = await tokensFor();
    const claims = JSON.parse(Buffer.from(issued.access_token!.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const jwk = (JSON.parse(readFileSync(as.keysFile, 'utf8')) as { keys: Array<{ kid: string }> }).keys[0]!;
    const key = await importJWK(jwk as never, 'ES256');
    const sign = (payload: Record<string, unknown>) =>
      new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'at+jwt' }).sign(key);
    expect(await mcpStatus(await sign(claims))).toBe(200);
    expect(await mcpStatus(await sign({ ...claims, aud: 'https://other.example/mcp' }))).toBe(401);
    expect(await mcpStatus(await sign({ ...claims, gid: 'no-such-grant-0123' }))).toBe(401);
    expect(await mcpStatus(await sign({ ...claims, role: 'admin', gid: undefined }))).toBe(401);
  });

  it('rejects a mix-up: the SDK client refuses an authorization response from another issuer', async () => {
    const clientIdUrl = cimd.publish('/clients/mixup.json', {
      client_name: 'Mix-up',
      redirect_uris: [redirectUrl],
      token_endpoint_auth_method: 'none',
    });
    const provider = new TestOAuthProvider(redirectUrl, clientIdUrl);
    const transport = new StreamableHTTPClientTransport(new URL(as.mcpUrl), { authProvider: provider });
    await expect(new Client({ name: 't', version: '1' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    const back = await createBrowser().signIn(provider.authorizationUrl!.href, redirectUrl, 'alice');
    expect(back.searchParams.get('iss')).toBe(as.url);
    back.searchParams.set('iss', 'https://attacker.example');
    await expect(transport.finishAuth(back.searchParams)).rejects.toBeInstanceOf(IssuerMismatchError);
    back.searchParams.delete('iss');
    await expect(transport.finishAuth(back.searchParams)).rejects.toThrow();
  });

  describe('client metadata documents', () => {
    const tryClient = async (id: string) => {
      const { challenge } = pkce();
      const response = await fetch(
        authorizeUrl({ client_id: id, redirect_uri: redirectUrl, code_challenge: challenge, code_challenge_method: 'S256' }),
        {
          redirect: 'manual',
        },
      );
      return { status: response.status, text: await response.text() };
    };

    it.each([
      ['a private address', 'https://10.0.0.1/client.json'],
      ['the cloud metadata address', 'https://169.254.169.254/latest/meta-data/client.json'],
      ['a unique-local IPv6 address', 'https://[fd00::1]/client.json'],
      ['an IPv4-mapped private address', 'https://[::ffff:10.0.0.1]/client.json'],
    ])('refuses a client id at %s without sending anything there', async (_name, id) => {
      const result = await tryClient(id);
      expect(result.status).toBe(400);
      expect(result.text).not.toContain('10.0.0.1');
    });

    it('refuses a document larger than 5 KiB', async () => {
      const result = await tryClient(`${cimd.base}/huge.json`);
      expect(result.status).toBe(400);
    });

    it('refuses a document whose client_id is not its own URL', async () => {
      const id = cimd.publish('/clients/liar.json', { redirect_uris: [redirectUrl] });
      cimd.publish('/clients/liar2.json', { client_id: id, redirect_uris: [redirectUrl] } as never);
      expect((await tryClient(`${cimd.base}/clients/liar2.json`)).status).toBe(400);
    });

    it('caches a document instead of fetching it for every request', async () => {
      const id = cimd.publish('/clients/cached.json', {
        client_name: 'Cached',
        redirect_uris: [redirectUrl],
        token_endpoint_auth_method: 'none',
      });
      const before = cimd.fetches();
      for (let i = 0; i < 3; i += 1) expect((await tryClient(id)).status).toBe(303);
      expect(cimd.fetches()).toBe(before + 1);
    });
  });

  it('refuses a person no mapping rule covers: the client gets access_denied with iss, and no token', async () => {
    const { challenge } = pkce();
    const back = await createBrowser().signIn(
      authorizeUrl({ client_id: clientId, redirect_uri: redirectUrl, code_challenge: challenge, code_challenge_method: 'S256' }).href,
      redirectUrl,
      'mallory',
    );
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('iss')).toBe(as.url);
    expect(back.searchParams.get('code')).toBeNull();
  });

  it('shows the consent page with the client name, origin, redirect host and scopes, and honours a denial', async () => {
    const { challenge } = pkce();
    const pages: string[] = [];
    const back = await createBrowser().signIn(
      authorizeUrl({ client_id: clientId, redirect_uri: redirectUrl, code_challenge: challenge, code_challenge_method: 'S256' }).href,
      redirectUrl,
      'alice',
      'deny',
      pages,
    );
    const consent = pages.find((page) => page.includes('id="allow"'))!;
    expect(consent).toContain('hostile-test');
    expect(consent).toContain(new URL(redirectUrl).host);
    expect(consent).toContain('tools:call');
    expect(consent).toContain('localhost address');
    expect(back.searchParams.get('error')).toBe('access_denied');
  });

  it('refuses a consent form posted without its CSRF token', async () => {
    const browser = createBrowser();
    const { challenge } = pkce();
    const pages: string[] = [];
    await browser.signIn(
      authorizeUrl({ client_id: clientId, redirect_uri: redirectUrl, code_challenge: challenge, code_challenge_method: 'S256' }).href,
      redirectUrl,
      'alice',
      'stop',
      pages,
    );
    const consent = pages.find((page) => page.includes('id="allow"'));
    expect(consent).toBeDefined();
    const action = /action="([^"]+)"/.exec(consent!)![1]!;
    const response = await browser.request(new URL(action, as.url), {
      method: 'POST',
      body: new URLSearchParams({ decision: 'allow', csrf: 'forged' }),
      origin: as.url,
    });
    expect(response.status).toBe(403);
  });

  it('answers errors as OAuth JSON without internals', async () => {
    const bad = await token({
      grant_type: 'authorization_code',
      code: 'x',
      client_id: clientId,
      redirect_uri: redirectUrl,
      code_verifier: pkce().verifier,
    });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body).sort()).toEqual(['error', 'error_description']);
    expect(JSON.stringify(bad.body)).not.toMatch(/at \/|node_modules|stack/);
  });
});

function readdirAudit(dir: string): string {
  // The trail of the replica under test: audit-<port>/<newest file>.
  const sub = readdirSync(dir).find((name) => name.startsWith('audit-'))!;
  const file = readdirSync(`${dir}/${sub}`)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .pop()!;
  return `${sub}/${file}`;
}
