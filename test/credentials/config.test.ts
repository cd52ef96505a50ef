import { loadConfig } from '../../src/config/load.js';
import { describePosture } from '../../src/config/posture.js';

const base = { MCP_AUTH_TOKEN: 'test-token-0123456789abcdef0123456789abcdef' };

describe('credentials configuration', () => {
  it('fails start-up for a JWT secret under 32 characters without echoing it', () => {
    expect(() => loadConfig({ ...base, MCP_JWT_SECRET: 'short-secret' })).toThrow(/MCP_JWT_SECRET: must be at least 32 characters/);
    try {
      loadConfig({ ...base, MCP_JWT_SECRET: 'short-secret' });
    } catch (error) {
      expect((error as Error).message).not.toContain('short-secret');
    }
  });

  it('reads the JWT secret from MCP_JWT_SECRET_FILE', () => {
    const config = loadConfig({ MCP_JWT_SECRET_FILE: '/run/secrets/jwt' }, () => 'file-secret-0123456789abcdef0123456789\n');
    expect(config.credentials.jwt.secret).toBe('file-secret-0123456789abcdef0123456789');
    expect(config.devMode).toBe(false);
  });

  it('defaults the audience to the public URL of the MCP endpoint and the lockout to 5 in 15 minutes for 30 minutes', () => {
    const config = loadConfig({ ...base, MCP_PUBLIC_URL: 'https://mcp.example.com/' });
    expect(config.credentials.jwt.audience).toEqual(['https://mcp.example.com/mcp']);
    expect(config.credentials.lockout).toEqual({ maxAttempts: 5, windowMs: 900_000, lockoutMs: 1_800_000 });
    expect(config.credentials.tokenEndpoint).toEqual({ enabled: false, accessTtlMs: 900_000, refreshTtlMs: 7 * 86_400_000 });
  });

  it('turns the token endpoint on when a key store and a JWT secret are set, and refuses to force it on without them', () => {
    const config = loadConfig({ ...base, MCP_KEY_STORE: '/tmp/keys.json', MCP_JWT_SECRET: 'x'.repeat(32) });
    expect(config.credentials.tokenEndpoint.enabled).toBe(true);
    expect(() => loadConfig({ ...base, MCP_TOKEN_ENDPOINT: 'true' })).toThrow(/MCP_TOKEN_ENDPOINT/);
  });

  it('warns about JWTs accepted without an audience', () => {
    const posture = describePosture(loadConfig({ ...base, MCP_JWT_SECRET: 'x'.repeat(32) }));
    expect(posture.warnings.map((warning) => warning.code)).toContain('MCPG_JWT_NO_AUDIENCE');
  });
});
