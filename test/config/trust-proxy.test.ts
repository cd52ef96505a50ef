import { describePosture } from '../../src/config/posture.js';
import { loadConfig } from '../../src/config/load.js';
import { MCP_POST_HEADERS, INITIALIZE, startTestServer, type TestServer } from '../helpers/server.js';

const KEY = 'allowlisted-key-0123456789abcdef0123456789';

function post(server: TestServer, headers: Record<string, string>): Promise<number> {
  return fetch(server.mcpUrl, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...headers }, body: JSON.stringify(INITIALIZE) }).then(
    async (response) => {
      await response.text();
      return response.status;
    },
  );
}

// The test client connects from 127.0.0.1: a trusted proxy when the setting names it, an untrusted peer otherwise.
const env = (trustProxy: string) => ({
  MCP_TRUST_PROXY: trustProxy,
  MCP_API_KEYS: `ci:operator:${KEY};cidrs=203.0.113.0/24`,
  MCP_SESSION_MODE: 'stateless',
  MCP_LOCKOUT_ATTEMPTS: '3',
});

describe('MCP_TRUST_PROXY naming the proxies (10.0.0.0/8) with a client that connects directly', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(env('10.0.0.0/8'));
  });
  afterAll(() => server.stop());

  it('ignores a spoofed X-Forwarded-For: no CIDR allowlist passed, no lockout escaped', async () => {
    expect(await post(server, { 'X-API-Key': KEY, 'X-Forwarded-For': '203.0.113.5' })).toBe(403);
    for (let i = 0; i < 3; i += 1) {
      expect(await post(server, { Authorization: 'Bearer wrong-0123456789abcdef', 'X-Forwarded-For': `198.51.100.${i}` })).toBe(401);
    }
    // Three "different" addresses were one peer: it is locked out, whatever address it claims next.
    expect(await post(server, { 'X-API-Key': KEY, 'X-Forwarded-For': '198.51.100.99' })).toBe(429);
  });
});

describe('MCP_TRUST_PROXY naming the peer (127.0.0.1) as the proxy', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(env('127.0.0.1'));
  });
  afterAll(() => server.stop());

  it('takes the client address from X-Forwarded-For', async () => {
    expect(await post(server, { 'X-API-Key': KEY, 'X-Forwarded-For': '203.0.113.5' })).toBe(200);
    expect(await post(server, { 'X-API-Key': KEY, 'X-Forwarded-For': '198.51.100.1' })).toBe(403);
    for (let i = 0; i < 3; i += 1) {
      expect(await post(server, { Authorization: 'Bearer wrong-0123456789abcdef', 'X-Forwarded-For': '198.51.100.7' })).toBe(401);
    }
    expect(await post(server, { 'X-API-Key': KEY, 'X-Forwarded-For': '198.51.100.7' })).toBe(429);
    expect(await post(server, { 'X-API-Key': KEY, 'X-Forwarded-For': '203.0.113.5' })).toBe(200);
  });
});

describe('MCP_TRUST_PROXY as a hop count (1)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(env('1'));
  });
  afterAll(() => server.stop());

  it('trusts whoever connects: only safe when clients can reach the port through the proxy alone', async () => {
    expect(await post(server, { 'X-API-Key': KEY, 'X-Forwarded-For': '203.0.113.5' })).toBe(200);
  });
});

describe('the MCP_TRUST_PROXY=true warning', () => {
  it('says that any client chooses its address and what that defeats', () => {
    const warning = describePosture(loadConfig({ MCP_TRUST_PROXY: 'true', MCP_AUDIT_ENABLED: 'false' })).warnings.find(
      (entry) => entry.code === 'MCPG_TRUST_PROXY_ALL',
    );
    expect(warning?.message).toMatch(/any client can choose the address/);
    expect(warning?.message).toMatch(/CIDR allowlists/);
    expect(warning?.message).toMatch(/lockouts/);
    expect(warning?.message).toMatch(/rate limits/);
  });
});
