import { createServer, type Server } from 'node:http';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
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

const USERS = {
  alice: { email: 'alice@example.com', email_verified: true, name: 'Alice', groups: ['staff'] },
  mallory: { email: 'mallory@elsewhere.test', email_verified: true },
};

/** Runs the SDK client's flow: connect (401 -> discovery -> redirect), sign in, finishAuth, reconnect, call a tool. */
async function connectWithOAuth(mcpUrl: string, provider: TestOAuthProvider, login: string) {
  const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  const client = new Client({ name: 'oauth-test', version: '1.0.0' });
  await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.authorizationUrl).toBeDefined();
  const callback = await createBrowser().signIn(provider.authorizationUrl!.href, provider.redirectUrl, login);
  expect(callback.searchParams.get('state')).toBe(provider.lastState);
  await first.finishAuth(callback.searchParams);
  const second = new Client({ name: 'oauth-test', version: '1.0.0' });
  await second.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider }));
  return { client: second, callback };
}

describe('the official SDK client signing a person in through the authorization server', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let cimd: Awaited<ReturnType<typeof startCimdServer>>;
  let as: AuthServerFixture;
  let redirect: Server;
  let redirectUrl: string;

  beforeAll(async () => {
    redirect = createServer((_req, res) => res.end('done'));
    redirectUrl = `http://127.0.0.1:${await listen(redirect)}/callback`;
    const reserved = await reserve();
    upstream = await startUpstream(USERS, [`${reserved.url}/auth/callback`]);
    cimd = await startCimdServer();
    as = await startAuthServer(upstream, {}, { server: reserved.server });
  });
  afterAll(async () => {
    await as?.stop();
    await Promise.all([upstream?.stop(), cimd?.stop(), close(redirect)]);
  });

  it('uses a Client ID Metadata Document, gets an audience-bound token with iss in the redirect, and calls a tool', async () => {
    const clientId = cimd.publish('/clients/desktop.json', {
      client_name: 'Desktop Test Client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    const provider = new TestOAuthProvider(redirectUrl, clientId);
    const { client, callback } = await connectWithOAuth(as.mcpUrl, provider, 'alice');
    expect(provider.info?.client_id).toBe(clientId);
    expect(callback.searchParams.get('iss')).toBe(as.url);
    const result = await client.callTool({ name: 'echo', arguments: { message: 'signed in' } });
    expect(JSON.stringify(result.content)).toContain('signed in');
    const payload = JSON.parse(Buffer.from(provider.saved!.access_token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ iss: as.url, aud: as.mcpUrl, role: 'viewer', tenant: 'acme', client_id: clientId });
    expect(Number(payload.exp) - Number(payload.iat)).toBe(600);
    expect(provider.saved?.refresh_token).toBeDefined();
    await client.close();
  });

  it('falls back to dynamic client registration for a client without a metadata document', async () => {
    const provider = new TestOAuthProvider(redirectUrl);
    const { client } = await connectWithOAuth(as.mcpUrl, provider, 'alice');
    expect(provider.info?.client_id).toBeDefined();
    expect(provider.info?.client_id).not.toMatch(/^https:/);
    await client.listTools();
    await client.close();
  });
});
