import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../docs/examples.js';
import { connectModernClient, startTestServer, type TestServer } from '../helpers/server.js';
import { startTestGateway, UPSTREAM_TOKEN, type TestGateway } from './helpers.js';

const CLIENT_ID = 'gateway-client';
const CLIENT_SECRET = 'gateway-client-secret-0123456789abcdef';

/** A minimal OAuth authorization server: metadata and a client-credentials token endpoint (basic auth). */
async function startAuthorizationServer() {
  const grants: Array<{ authorization: string | undefined; body: string }> = [];
  const server = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.method === 'GET' && req.url === '/.well-known/oauth-authorization-server') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          issuer: base,
          authorization_endpoint: `${base}/authorize`,
          token_endpoint: `${base}/token`,
          grant_types_supported: ['client_credentials'],
          token_endpoint_auth_methods_supported: ['client_secret_basic'],
          response_types_supported: ['token'],
        }),
      );
      return;
    }
    if (req.method === 'POST' && req.url === '/token') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        grants.push({ authorization: req.headers.authorization, body });
        const expected = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
        if (req.headers.authorization !== expected || !body.includes('grant_type=client_credentials')) {
          res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_client' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: UPSTREAM_TOKEN, token_type: 'Bearer', expires_in: 3600 }));
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    grants,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('an upstream behind OAuth client credentials', () => {
  let authorizationServer: Awaited<ReturnType<typeof startAuthorizationServer>>;
  let upstream: TestServer;
  let gateway: TestGateway;
  beforeAll(async () => {
    authorizationServer = await startAuthorizationServer();
    const port = await freePort();
    // The upstream accepts the token the authorization server issues, and names that server in its metadata.
    upstream = await startTestServer({
      MCP_PORT: String(port),
      MCP_PUBLIC_URL: `http://127.0.0.1:${port}`,
      MCP_AUTH_TOKEN: UPSTREAM_TOKEN,
      MCP_TOOLSET: 'conformance',
      MCP_OAUTH_AUTHORIZATION_SERVERS: authorizationServer.url,
    });
    gateway = await startTestGateway(
      {
        api: {
          url: upstream.mcpUrl,
          auth: {
            type: 'oauth-client-credentials',
            clientId: CLIENT_ID,
            clientSecret: { env: 'CLIENT_SECRET' },
            issuer: authorizationServer.url,
          },
          policy: { tools: { test_simple_text: 'tools:call' } },
        },
      },
      {},
      { CLIENT_SECRET },
    );
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
    await upstream?.stop();
    authorizationServer?.close();
  });

  it('gets a token from the upstream’s authorization server with the gateway’s client credentials, and calls with it', async () => {
    const client = await connectModernClient(gateway.mcpUrl('api'));
    try {
      const result = await client.client.callTool({ name: 'test_simple_text', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: 'This is a simple text response for testing.' }]);
    } finally {
      await client.close();
    }
    expect(authorizationServer.grants.length).toBeGreaterThan(0);
    expect(authorizationServer.grants[0]!.body).toContain('grant_type=client_credentials');
  });
});
