import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { mapIdentity, parseIdentityMap } from '../../src/auth-server/identity-map.js';
import { createStoreKey, JWT_SECRET } from '../credentials/helpers.js';
import { startTestServer, tempDir } from '../helpers/server.js';
import { reserve, startAuthServer, startUpstream } from './helpers.js';

const json = async (url: string) => {
  const response = await fetch(url);
  return { status: response.status, body: response.status === 200 ? ((await response.json()) as Record<string, unknown>) : undefined };
};

describe('what the metadata names (issue 17: never an authorization server that does not exist)', () => {
  it('names no authorization server, and serves no authorization-server metadata, when there is none', async () => {
    const server = await startTestServer();
    try {
      const prm = await json(`${server.url}/.well-known/oauth-protected-resource/mcp`);
      expect(prm.status).toBe(200);
      expect(prm.body).not.toHaveProperty('authorization_servers');
      expect((await json(`${server.url}/.well-known/oauth-authorization-server`)).status).toBe(404);
    } finally {
      await server.stop();
    }
  });

  it('names this server when it has the token endpoint, and serves RFC 8414 metadata for it', async () => {
    const dir = tempDir();
    const storePath = join(dir.dir, 'keys', 'keys.json');
    await createStoreKey(storePath);
    const server = await startTestServer({ MCP_KEY_STORE: storePath, MCP_JWT_SECRET: JWT_SECRET, MCP_LOCKOUT_ATTEMPTS: '0' });
    try {
      const prm = await json(`${server.url}/.well-known/oauth-protected-resource`);
      expect(prm.body?.authorization_servers).toEqual([server.url]);
      const metadata = await json(`${server.url}/.well-known/oauth-authorization-server`);
      expect(metadata.body).toMatchObject({
        issuer: server.url,
        token_endpoint: `${server.url}/oauth/token`,
        grant_types_supported: ['client_credentials', 'refresh_token'],
      });
    } finally {
      await server.stop();
      dir.remove();
    }
  });

  describe('with the authorization server on', () => {
    let upstream: Awaited<ReturnType<typeof startUpstream>>;
    let as: Awaited<ReturnType<typeof startAuthServer>>;
    beforeAll(async () => {
      const reserved = await reserve();
      upstream = await startUpstream({}, [`${reserved.url}/auth/callback`]);
      as = await startAuthServer(upstream, {}, { server: reserved.server });
    });
    afterAll(async () => {
      await as?.stop();
      await upstream?.stop();
    });

    it('names it in the protected-resource metadata, with the basic MCP scopes, and in the 401 challenge', async () => {
      const prm = await json(`${as.url}/.well-known/oauth-protected-resource/mcp`);
      expect(prm.body).toMatchObject({ resource: as.mcpUrl, authorization_servers: [as.url] });
      expect(prm.body?.scopes_supported).toEqual(expect.arrayContaining(['tools:list', 'tools:call']));
      expect(prm.body?.scopes_supported).not.toContain('keys:manage');
      const challenge = (await fetch(as.mcpUrl, { method: 'POST' })).headers.get('www-authenticate');
      expect(challenge).toContain('scope="tools:list tools:call');
    });

    it('serves RFC 8414 and OpenID metadata whose issuer is the one named, with S256 only, iss and CIMD', async () => {
      for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const metadata = await json(`${as.url}${path}`);
        expect(metadata.body).toMatchObject({
          issuer: as.url,
          authorization_endpoint: `${as.url}/auth/authorize`,
          token_endpoint: `${as.url}/auth/token`,
          registration_endpoint: `${as.url}/auth/register`,
          revocation_endpoint: `${as.url}/auth/revoke`,
          jwks_uri: `${as.url}/auth/jwks`,
          code_challenge_methods_supported: ['S256'],
          response_types_supported: ['code'],
          authorization_response_iss_parameter_supported: true,
          client_id_metadata_document_supported: true,
        });
        expect(metadata.body).not.toHaveProperty('pushed_authorization_request_endpoint');
      }
    });

    it('bounds registrations from one address', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i += 1) {
        const response = await fetch(`${as.url}/auth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'none' }),
        });
        statuses.push(response.status);
      }
      expect(statuses.slice(0, 10).every((status) => status === 201)).toBe(true);
      expect(statuses.slice(10)).toEqual([429, 429]);
    });
  });

  it('lets the operator turn dynamic registration off', async () => {
    const reserved = await reserve();
    const upstream = await startUpstream({}, [`${reserved.url}/auth/callback`]);
    const as = await startAuthServer(upstream, { MCP_AUTH_SERVER_REGISTRATION: 'false' }, { server: reserved.server });
    try {
      expect((await json(`${as.url}/.well-known/oauth-authorization-server`)).body).not.toHaveProperty('registration_endpoint');
      const response = await fetch(`${as.url}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(response.status).toBe(404);
    } finally {
      await as.stop();
      await upstream.stop();
    }
  });
});

describe('the authorization server settings', () => {
  const base = { MCP_AUTH_TOKEN: 'test-token-0123456789abcdef0123456789abcdef', MCP_AUDIT_ENABLED: 'false' };

  it('is off by default', () => {
    expect(loadConfig(base).authServer.enabled).toBe(false);
  });

  it('names every setting it cannot work without, at start-up', () => {
    expect(() => loadConfig({ ...base, MCP_AUTH_SERVER: 'true' })).toThrow(
      /MCP_PUBLIC_URL[\s\S]*MCP_AUTH_SERVER_KEYS_FILE[\s\S]*MCP_AUTH_SERVER_UPSTREAM_ISSUER[\s\S]*MCP_AUTH_SERVER_UPSTREAM_CLIENT_ID[\s\S]*MCP_AUTH_SERVER_UPSTREAM_CLIENT_SECRET[\s\S]*MCP_AUTH_SERVER_IDENTITY_FILE/,
    );
  });

  it('refuses plain http for the issuer and the upstream unless loopback is allowed for development', () => {
    const on = {
      ...base,
      MCP_AUTH_SERVER: 'true',
      MCP_AUTH_SERVER_KEYS_FILE: '/k',
      MCP_AUTH_SERVER_UPSTREAM_CLIENT_ID: 'c',
      MCP_AUTH_SERVER_UPSTREAM_CLIENT_SECRET: 's',
      MCP_AUTH_SERVER_IDENTITY_FILE: '/i',
    };
    expect(() =>
      loadConfig({ ...on, MCP_PUBLIC_URL: 'http://mcp.example.com', MCP_AUTH_SERVER_UPSTREAM_ISSUER: 'https://idp.example.com' }),
    ).toThrow(/MCP_PUBLIC_URL: the authorization server needs https/);
    expect(() =>
      loadConfig({ ...on, MCP_PUBLIC_URL: 'https://mcp.example.com', MCP_AUTH_SERVER_UPSTREAM_ISSUER: 'http://idp.example.com' }),
    ).toThrow(/MCP_AUTH_SERVER_UPSTREAM_ISSUER: must be https/);
    expect(() =>
      loadConfig({ ...on, MCP_PUBLIC_URL: 'https://mcp.example.com/base', MCP_AUTH_SERVER_UPSTREAM_ISSUER: 'https://idp.example.com' }),
    ).toThrow(/must be an origin without a path/);
    expect(
      loadConfig({ ...on, MCP_PUBLIC_URL: 'https://mcp.example.com', MCP_AUTH_SERVER_UPSTREAM_ISSUER: 'https://idp.example.com' })
        .authServer,
    ).toMatchObject({
      enabled: true,
      issuer: 'https://mcp.example.com',
      resource: 'https://mcp.example.com/mcp',
    });
  });
});

describe('the identity mapping', () => {
  const known = (role: string) => ['admin', 'viewer', 'operator'].includes(role);
  const map = parseIdentityMap(
    JSON.stringify({
      rules: [
        { match: { groups: ['mcp-admins'] }, role: 'admin' },
        { match: { claims: { tid: 'tenant-1' } }, role: 'operator', tenant: { claim: 'tid' } },
        { match: { email_domain: 'example.com' }, role: 'viewer', tenant: 'acme' },
      ],
    }),
    known,
    [],
  )!;
  const iss = 'https://idp.example.com';

  it('takes the first rule whose conditions all hold', () => {
    expect(mapIdentity({ iss, sub: '1', groups: ['mcp-admins'], email: 'a@example.com', email_verified: true }, map)).toMatchObject({
      ok: true,
      role: 'admin',
    });
    expect(mapIdentity({ iss, sub: '2', tid: 'tenant-1' }, map)).toMatchObject({ ok: true, role: 'operator', tenant: 'tenant-1' });
    expect(mapIdentity({ iss, sub: '3', email: 'b@example.com', email_verified: true }, map)).toMatchObject({
      ok: true,
      role: 'viewer',
      tenant: 'acme',
    });
  });

  it('never matches an e-mail address the provider did not verify', () => {
    expect(mapIdentity({ iss, sub: '4', email: 'c@example.com' }, map)).toEqual({ ok: false, reason: 'no_rule_matched' });
    expect(mapIdentity({ iss, sub: '5', email: 'c@example.com', email_verified: 'true' }, map)).toEqual({
      ok: false,
      reason: 'no_rule_matched',
    });
  });

  it('gives no access when no rule matches, and does not let a look-alike domain through', () => {
    expect(mapIdentity({ iss, sub: '6', email: 'd@evilexample.com', email_verified: true }, map).ok).toBe(false);
    expect(mapIdentity({ iss, sub: '7', email: 'd@example.com.evil.test', email_verified: true }, map).ok).toBe(false);
  });

  it('refuses a file naming an unknown role or a rule with no condition', () => {
    const problems: string[] = [];
    parseIdentityMap(JSON.stringify({ rules: [{ match: {}, role: 'root' }] }), known, problems);
    expect(problems.join('\n')).toMatch(/name at least one condition[\s\S]*unknown role "root"/);
  });
});

describe('the start-up posture', () => {
  it('names the authorization server among the methods and warns when loopback is allowed', async () => {
    const { describePosture } = await import('../../src/config/posture.js');
    const config = loadConfig({
      MCP_AUDIT_ENABLED: 'false',
      MCP_PUBLIC_URL: 'http://127.0.0.1:3000',
      MCP_AUTH_SERVER: 'true',
      MCP_AUTH_SERVER_ALLOW_LOOPBACK: 'true',
      MCP_AUTH_SERVER_KEYS_FILE: '/k',
      MCP_AUTH_SERVER_UPSTREAM_ISSUER: 'http://127.0.0.1:4000',
      MCP_AUTH_SERVER_UPSTREAM_CLIENT_ID: 'c',
      MCP_AUTH_SERVER_UPSTREAM_CLIENT_SECRET: 's',
      MCP_AUTH_SERVER_IDENTITY_FILE: '/i',
    });
    expect(config.devMode).toBe(false);
    const posture = describePosture(config);
    expect(posture.summary.authMethods).toContain('auth-server');
    expect(posture.warnings.map((warning) => warning.code)).toContain('MCPG_AUTH_SERVER_LOOPBACK');
  });
});
