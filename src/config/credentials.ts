import type { ParsedEnv } from './schema.js';
import type { CredentialsConfig } from './types.js';

/** The credentials part of the configuration. */
export function buildCredentials(env: ParsedEnv, problems: string[], devMode = false): CredentialsConfig {
  const publicUrl = env.MCP_PUBLIC_URL?.replace(/\/+$/, '');
  const audience = env.MCP_JWT_AUDIENCE.length ? env.MCP_JWT_AUDIENCE : publicUrl ? [`${publicUrl}${env.MCP_PATH}`] : [];
  const canIssue = Boolean(env.MCP_KEY_STORE && env.MCP_JWT_SECRET);
  if (env.MCP_JWT_JWKS_MAX_AGE < env.MCP_JWT_JWKS_REFETCH_INTERVAL)
    problems.push('MCP_JWT_JWKS_MAX_AGE: must be at least MCP_JWT_JWKS_REFETCH_INTERVAL');
  if (env.MCP_TOKEN_ENDPOINT === 'true' && !canIssue) problems.push('MCP_TOKEN_ENDPOINT: needs MCP_KEY_STORE and MCP_JWT_SECRET');
  for (const server of env.MCP_OAUTH_AUTHORIZATION_SERVERS) {
    if (!/^https?:\/\/\S+$/.test(server)) problems.push('MCP_OAUTH_AUTHORIZATION_SERVERS: each entry must be an http(s) URL');
  }
  return {
    keyStorePath: env.MCP_KEY_STORE,
    jwt: {
      secret: env.MCP_JWT_SECRET,
      publicKeyFile: env.MCP_JWT_PUBLIC_KEY_FILE,
      jwksUri: env.MCP_JWT_JWKS_URI,
      jwksRefetchMs: env.MCP_JWT_JWKS_REFETCH_INTERVAL,
      jwksMaxAgeMs: env.MCP_JWT_JWKS_MAX_AGE,
      issuer: env.MCP_JWT_ISSUER,
      audience,
      clockSkewSec: Math.round(env.MCP_JWT_CLOCK_SKEW / 1000),
      claims: { role: env.MCP_JWT_ROLE_CLAIM, permissions: env.MCP_JWT_SCOPE_CLAIM, tenant: env.MCP_JWT_TENANT_CLAIM },
    },
    oauth: { authorizationServers: env.MCP_OAUTH_AUTHORIZATION_SERVERS, scopes: env.MCP_OAUTH_SCOPES },
    tokenEndpoint: {
      enabled: env.MCP_TOKEN_ENDPOINT === 'auto' ? canIssue : env.MCP_TOKEN_ENDPOINT === 'true',
      accessTtlMs: env.MCP_ACCESS_TOKEN_TTL,
      refreshTtlMs: env.MCP_REFRESH_TOKEN_TTL,
    },
    // Development mode has no lockout: its only credentials are 256-bit tokens nobody guesses, while
    // stale ones (a client still configured with the token of a previous run) would lock the
    // developer's own 127.0.0.1 out. The per-IP rate limit still applies.
    lockout: {
      maxAttempts: devMode ? 0 : env.MCP_LOCKOUT_ATTEMPTS,
      windowMs: env.MCP_LOCKOUT_WINDOW,
      lockoutMs: env.MCP_LOCKOUT_DURATION,
    },
  };
}
