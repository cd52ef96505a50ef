import type { GuardConfig } from './config.js';
import { isLoopbackHost } from './schema.js';
import { allowedHostsOf } from './to-options.js';

/** A valid but risky setting, reported once at start-up. Codes are documented in docs/configuration.md. */
export interface PostureWarning {
  code: string;
  message: string;
}

/** The security posture of a configuration: what is on, and what is risky. */
export interface Posture {
  summary: Record<string, string | number | boolean | string[]>;
  warnings: PostureWarning[];
}

/** Describes a configuration for the start-up log, without any secret. */
export function describePosture(config: GuardConfig): Posture {
  const methods: string[] = [];
  if (config.auth.token) methods.push('bearer-token');
  if (config.auth.apiKeys.length) methods.push(`api-keys(${config.auth.apiKeys.length})`);
  if (config.auth.sessionTokens.enabled) methods.push('session-tokens');
  const { jwt, keyStorePath } = config.credentials;
  if (keyStorePath) methods.push('key-store');
  if (jwt.secret || jwt.publicKeyFile || jwt.jwksUri) methods.push('jwt');
  if (config.authServer.enabled) methods.push('auth-server');
  const hosts = allowedHostsOf(config);
  const warnings: PostureWarning[] = [];
  const loopback = isLoopbackHost(config.server.host);

  if (config.devMode) {
    warnings.push({
      code: 'MCPG_DEV_MODE',
      message:
        'No credential configured: development mode, loopback only, no lockout; any local program can get a development token (GET /session). Set MCP_AUTH_TOKEN or MCP_API_KEYS for production.',
    });
  }
  if (config.devMode && !loopback) {
    warnings.push({
      code: 'MCPG_INSECURE_BIND',
      message: `Listening on ${config.server.host} without credentials because MCP_ALLOW_INSECURE=true.`,
    });
  }
  if (!loopback && hosts.length === 0) {
    warnings.push({
      code: 'MCPG_NO_HOST_ALLOWLIST',
      message: 'Non-loopback bind without MCP_ALLOWED_HOSTS or MCP_PUBLIC_URL: the Host header is not checked (DNS rebinding).',
    });
  }
  if (config.server.trustProxy === true) {
    warnings.push({
      code: 'MCPG_TRUST_PROXY_ALL',
      message:
        "MCP_TRUST_PROXY=true trusts every X-Forwarded-For hop: any client can choose the address it is seen from, and so pass CIDR allowlists, escape lockouts and per-address rate limits, and lock others out. Set the proxies' addresses (MCP_TRUST_PROXY=10.0.0.5 or 10.0.0.0/8), or their hop count if clients can reach this port only through them.",
    });
  }
  if (config.http.corsOrigins.includes('*')) {
    warnings.push({ code: 'MCPG_CORS_WILDCARD', message: 'MCP_CORS_ORIGINS=* lets any web page call this server from a browser.' });
  }
  if (config.auth.metricsPublic) {
    warnings.push({ code: 'MCPG_METRICS_PUBLIC', message: 'MCP_METRICS_PUBLIC=true serves /metrics without authentication.' });
  }
  if ((jwt.secret || jwt.publicKeyFile || jwt.jwksUri) && jwt.audience.length === 0) {
    warnings.push({
      code: 'MCPG_JWT_NO_AUDIENCE',
      message:
        'JWTs are accepted without an audience check: a token issued for another resource is accepted. Set MCP_JWT_AUDIENCE or MCP_PUBLIC_URL.',
    });
  }
  if (config.authServer.enabled && config.authServer.allowLoopback) {
    warnings.push({
      code: 'MCPG_AUTH_SERVER_LOOPBACK',
      message:
        'MCP_AUTH_SERVER_ALLOW_LOOPBACK=true: the authorization server accepts http and fetches client metadata documents from loopback addresses. Development only.',
    });
  }
  if (!config.audit.enabled) {
    warnings.push({ code: 'MCPG_AUDIT_OFF', message: 'MCP_AUDIT_ENABLED=false: no audit trail is written.' });
  }

  return {
    summary: {
      bind: `${config.server.host}:${config.server.port}`,
      mode: config.devMode ? 'development' : 'production',
      authMethods: methods,
      corsOrigins: config.http.corsOrigins,
      allowedHosts: hosts,
      rateLimitPerIp: `${config.rateLimit.perIp.limit}/${config.rateLimit.perIp.windowMs / 1000}s`,
      trustProxy: String(config.server.trustProxy),
      mcp: `${config.mcp.path} (${config.mcp.mode})`,
      audit: config.audit.enabled ? config.audit.dir : 'off',
      store: config.redis.url ? 'redis' : 'memory',
    },
    warnings,
  };
}
