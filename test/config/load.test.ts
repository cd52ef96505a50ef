import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { envSchema, SECRET_VARIABLES } from '../../src/config/schema.js';

const TOKEN = 'a-very-long-static-token-of-32-chars!!';

function problemsOf(env: Record<string, string>, readFile?: (path: string) => string): string[] {
  try {
    loadConfig(env, readFile);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('defaults to loopback, development mode and in-memory state when nothing is set', () => {
    const config = loadConfig({});
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.server.port).toBe(3000);
    expect(config.devMode).toBe(true);
    expect(config.auth.sessionTokens.enabled).toBe(true);
    expect(config.redis.url).toBeUndefined();
    expect(config.http.corsOrigins).toEqual([]);
    expect(config.server.trustProxy).toBe(false);
  });

  it('accepts PORT and HOST as fallbacks but prefers the MCP_ names', () => {
    expect(loadConfig({ PORT: '8080', HOST: 'localhost' }).server).toMatchObject({ port: 8080, host: 'localhost' });
    expect(loadConfig({ PORT: '8080', MCP_PORT: '9090' }).server.port).toBe(9090);
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ MCP_PORT: '', MCP_AUTH_TOKEN: '' }).server.port).toBe(3000);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({ MCP_PORT: 'eighty', MCP_LOG_LEVEL: 'loud', MCP_BODY_LIMIT: 'huge', MCP_TRUST_PROXY: 'maybe' });
    expect(problems.some((p) => p.startsWith('MCP_PORT'))).toBe(true);
    expect(problems.some((p) => p.startsWith('MCP_LOG_LEVEL'))).toBe(true);
    expect(problems.some((p) => p.startsWith('MCP_BODY_LIMIT'))).toBe(true);
    expect(problems.some((p) => p.startsWith('MCP_TRUST_PROXY'))).toBe(true);
  });

  it('never echoes a secret in its error message', () => {
    const secret = 'short-secret-value';
    try {
      loadConfig({ MCP_AUTH_TOKEN: secret, MCP_API_KEYS: `ci:operator:${secret}`, REDIS_URL: `redis://:${secret}@` });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain(secret);
      expect((error as ConfigError).problems.length).toBeGreaterThanOrEqual(2);
    }
  });

  it('reads a secret from NAME_FILE, without its trailing newline', () => {
    const config = loadConfig({ MCP_AUTH_TOKEN_FILE: '/run/secrets/token' }, (path) => {
      expect(path).toBe('/run/secrets/token');
      return `${TOKEN}\n`;
    });
    expect(config.auth.token).toBe(TOKEN);
    expect(config.devMode).toBe(false);
  });

  it('reads every SIEM secret from NAME_FILE, like the other secrets', () => {
    const files: Record<string, string> = {
      '/run/secrets/splunk': 'splunk-hec-token\n',
      '/run/secrets/datadog': 'datadog-api-key\n',
      '/run/secrets/sumo': 'https://collectors.sumologic.com/receiver/v1/http/SECRETPART\n',
      '/run/secrets/webhook': `${TOKEN}\n`,
    };
    const config = loadConfig(
      {
        MCP_AUTH_TOKEN: TOKEN,
        MCP_SIEM_SPLUNK_URL: 'https://splunk.example:8088/services/collector/event',
        MCP_SIEM_SPLUNK_TOKEN_FILE: '/run/secrets/splunk',
        MCP_SIEM_DATADOG_API_KEY_FILE: '/run/secrets/datadog',
        MCP_SIEM_SUMO_URL_FILE: '/run/secrets/sumo',
        MCP_SIEM_WEBHOOK_URL: 'https://hooks.example/audit',
        MCP_SIEM_WEBHOOK_SECRET_FILE: '/run/secrets/webhook',
      },
      (path) => files[path] ?? '',
    );
    expect(config.audit.siem).toEqual({
      splunk: { url: 'https://splunk.example:8088/services/collector/event', token: 'splunk-hec-token' },
      datadog: { url: undefined, apiKey: 'datadog-api-key' },
      sumo: { url: 'https://collectors.sumologic.com/receiver/v1/http/SECRETPART' },
      webhook: { url: 'https://hooks.example/audit', secret: TOKEN },
    });
  });

  it('treats every secret variable as file-readable, the SIEM secrets included', () => {
    expect([...SECRET_VARIABLES].sort()).toEqual(
      [
        'MCP_API_KEYS',
        'MCP_AUDIT_HMAC_KEY',
        'MCP_AUTH_SERVER_UPSTREAM_CLIENT_SECRET',
        'MCP_AUTH_TOKEN',
        'MCP_JWT_SECRET',
        'MCP_REQUEST_STATE_KEY',
        'MCP_SIEM_DATADOG_API_KEY',
        'MCP_SIEM_SPLUNK_TOKEN',
        'MCP_SIEM_SUMO_URL',
        'MCP_SIEM_WEBHOOK_SECRET',
        'REDIS_URL',
      ].sort(),
    );
  });

  it('refuses a secret given both directly and as a file, and an unreadable file', () => {
    const problems = problemsOf({ MCP_AUTH_TOKEN: TOKEN, MCP_AUTH_TOKEN_FILE: '/x', MCP_API_KEYS_FILE: '/missing' }, (path) => {
      if (path === '/missing') throw new Error('ENOENT');
      return TOKEN;
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^MCP_AUTH_TOKEN: set either/),
        expect.stringMatching(/^MCP_API_KEYS_FILE: cannot read/),
      ]),
    );
  });

  it('refuses to bind a non-loopback address without credentials unless told to', () => {
    expect(problemsOf({ MCP_HOST: '0.0.0.0' })).toEqual([expect.stringMatching(/^MCP_HOST: refusing/)]);
    expect(loadConfig({ MCP_HOST: '0.0.0.0', MCP_ALLOW_INSECURE: 'true' }).server.host).toBe('0.0.0.0');
    expect(loadConfig({ MCP_HOST: '0.0.0.0', MCP_AUTH_TOKEN: TOKEN }).devMode).toBe(false);
  });

  it('parses static API keys with and without a name and role', () => {
    const config = loadConfig({ MCP_API_KEYS: `ci:viewer:${TOKEN}, ${TOKEN}x` });
    expect(config.auth.apiKeys).toEqual([
      { name: 'ci', role: 'viewer', secret: TOKEN },
      { name: 'static-2', role: 'operator', secret: `${TOKEN}x` },
    ]);
  });

  it('parses MCP_TRUST_PROXY as off, a hop count or a list of proxy addresses', () => {
    expect(loadConfig({ MCP_TRUST_PROXY: 'false' }).server.trustProxy).toBe(false);
    expect(loadConfig({ MCP_TRUST_PROXY: '2' }).server.trustProxy).toBe(2);
    expect(loadConfig({ MCP_TRUST_PROXY: '10.0.0.0/8, 192.168.1.1' }).server.trustProxy).toEqual(['10.0.0.0/8', '192.168.1.1']);
    expect(problemsOf({ MCP_TRUST_PROXY: '10.0.0.0/99' })).toHaveLength(1);
  });

  it('parses durations and sizes with units', () => {
    const config = loadConfig({ MCP_SHUTDOWN_TIMEOUT: '5s', MCP_BODY_LIMIT: '512kb', MCP_SESSION_IDLE_TIMEOUT: '2m' });
    expect(config.server.shutdownTimeoutMs).toBe(5000);
    expect(config.http.bodyLimitBytes).toBe(512 * 1024);
    expect(config.mcp.sessionIdleMs).toBe(120_000);
    expect(problemsOf({ MCP_SESSION_TOKEN_TTL: '2h' })).toEqual([expect.stringMatching(/^MCP_SESSION_TOKEN_TTL/)]);
  });
});

describe('.env.example', () => {
  it('lists exactly the variables the schema reads', () => {
    const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const listed = new Set([...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]));
    expect([...listed].sort()).toEqual(Object.keys(envSchema.shape).sort());
  });
});
