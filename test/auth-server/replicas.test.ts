import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { INITIALIZE, MCP_POST_HEADERS } from '../helpers/server.js';
import {
  close,
  createBrowser,
  listen,
  startAuthServer,
  startCimdServer,
  startUpstream,
  TestOAuthProvider,
  type AuthServerFixture,
} from './helpers.js';

/** A load balancer: each request goes to the next replica in turn. */
async function roundRobin(ports: () => number[]) {
  let next = 0;
  const served: number[] = [];
  const server = createServer((req, res) => {
    const targets = ports();
    const port = targets[next++ % targets.length]!;
    served.push(port);
    const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  const port = await listen(server);
  return { server, url: `http://127.0.0.1:${port}`, served };
}

describe('two replicas on one Redis behind a round-robin balancer', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let cimd: Awaited<ReturnType<typeof startCimdServer>>;
  let a: AuthServerFixture;
  let b: AuthServerFixture;
  let balancer: Awaited<ReturnType<typeof roundRobin>>;
  let redirect: Server;
  let redirectUrl: string;

  beforeAll(async () => {
    redirect = createServer((_req, res) => res.end('done'));
    redirectUrl = `http://127.0.0.1:${await listen(redirect)}/callback`;
    balancer = await roundRobin(() => [new URL(a.directUrl).port, new URL(b.directUrl).port].map(Number));
    upstream = await startUpstream({ alice: { email: 'alice@example.com', email_verified: true } }, [`${balancer.url}/auth/callback`]);
    cimd = await startCimdServer();
    const env = { REDIS_URL, MCP_REDIS_PREFIX: uniquePrefix('authz').replace(/^mcpg-test/, 'mcpg') };
    a = await startAuthServer(upstream, env, { publicUrl: balancer.url });
    b = await startAuthServer(upstream, env, { publicUrl: balancer.url, dir: a.dir });
  }, 30_000);
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await Promise.all([upstream?.stop(), cimd?.stop(), close(redirect), close(balancer.server)]);
  });

  it('signs a person in with every step on whichever replica the balancer picks, and both accept the token', async () => {
    const clientId = cimd.publish('/clients/replicas.json', {
      client_name: 'Replicas',
      redirect_uris: [redirectUrl],
      token_endpoint_auth_method: 'none',
    });
    const provider = new TestOAuthProvider(redirectUrl, clientId);
    const mcpUrl = `${balancer.url}/mcp`;
    const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
    await expect(new Client({ name: 'r', version: '1' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
    const back = await createBrowser().signIn(provider.authorizationUrl!.href, redirectUrl, 'alice');
    await first.finishAuth(back.searchParams);
    expect(new Set(balancer.served).size).toBe(2);
    const token = provider.saved!.access_token;
    for (const replica of [a, b]) {
      const response = await fetch(`${replica.directUrl}/mcp`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, ...MCP_POST_HEADERS },
        body: JSON.stringify(INITIALIZE),
      });
      expect(response.status).toBe(200);
    }
  });

  it('detects refresh-token reuse across replicas: rotate on one, replay on the other, and the grant dies everywhere', async () => {
    const registered = (await (
      await fetch(`${balancer.url}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [redirectUrl],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
        }),
      })
    ).json()) as { client_id: string };
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL(`${balancer.url}/auth/authorize`);
    for (const [k, v] of Object.entries({
      client_id: registered.client_id,
      redirect_uri: redirectUrl,
      response_type: 'code',
      scope: 'tools:list',
      resource: `${balancer.url}/mcp`,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }))
      url.searchParams.set(k, v);
    const back = await createBrowser().signIn(url.href, redirectUrl, 'alice');
    const tokenAt = async (replica: AuthServerFixture, params: Record<string, string>) => {
      const response = await fetch(`${replica.directUrl}/auth/token`, {
        method: 'POST',
        body: new URLSearchParams({ client_id: registered.client_id, ...params }),
      });
      return (await response.json()) as Record<string, string>;
    };
    const issued = await tokenAt(a, {
      grant_type: 'authorization_code',
      code: back.searchParams.get('code')!,
      code_verifier: verifier,
      redirect_uri: redirectUrl,
    });
    expect(issued.refresh_token).toBeDefined();
    const rotated = await tokenAt(b, { grant_type: 'refresh_token', refresh_token: issued.refresh_token! });
    expect(rotated.access_token).toBeDefined();
    expect((await tokenAt(a, { grant_type: 'refresh_token', refresh_token: issued.refresh_token! })).error).toBe('invalid_grant');
    expect((await tokenAt(b, { grant_type: 'refresh_token', refresh_token: rotated.refresh_token! })).error).toBe('invalid_grant');
    for (const replica of [a, b]) {
      const response = await fetch(`${replica.directUrl}/mcp`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${rotated.access_token}`, ...MCP_POST_HEADERS },
        body: JSON.stringify(INITIALIZE),
      });
      expect(response.status).toBe(401);
    }
  });
});
