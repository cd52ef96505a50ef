import { isIP } from 'node:net';
import { buildAuthServerConfig, type AuthServerConfig } from '../auth-server/config.js';
import { defaultRbac, type RbacPolicy } from './rbac.js';
import { isLoopbackHost, type ParsedEnv } from './schema.js';

/** A static API key from `MCP_API_KEYS`. */
export interface StaticApiKey {
  /** Name used as the principal id (`key:<name>`); never the secret. */
  name: string;
  role: string;
  secret: string;
  /** Tenant of the key's principal. */
  tenant?: string;
  /** Client addresses (CIDRs) the key may be used from; absent means any. */
  allowedCidrs?: string[];
}

/** API-key store, JWT, OAuth discovery, token endpoint and lockout settings. */
export interface CredentialsConfig {
  keyStorePath: string | undefined;
  jwt: {
    secret: string | undefined;
    publicKeyFile: string | undefined;
    jwksUri: string | undefined;
    jwksRefetchMs: number;
    /** Longest a JWKS key is trusted without a successful refetch. */
    jwksMaxAgeMs: number;
    issuer: string | undefined;
    /** Accepted `aud` values; the first is put in tokens this server issues. Empty: not checked. */
    audience: string[];
    clockSkewSec: number;
    claims: { role: string; permissions: string; tenant: string };
  };
  oauth: { authorizationServers: string[]; scopes: string[] };
  tokenEndpoint: { enabled: boolean; accessTtlMs: number; refreshTtlMs: number };
  /** `maxAttempts` 0 turns the lockout off. */
  lockout: { maxAttempts: number; windowMs: number; lockoutMs: number };
}

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

/** A token bucket: `burst` at once, refilled at `perMinute`. */
export interface BucketLimitConfig {
  perMinute: number;
  burst: number;
}

/** The four rate-limit levels; `undefined` turns a level off. */
export interface RateLimitConfig {
  perIp: { limit: number; windowMs: number };
  principal: BucketLimitConfig | undefined;
  /** Limit of every tool without an override, and the overrides by tool name. */
  tool: { default: BucketLimitConfig | undefined; tools: Record<string, BucketLimitConfig> };
  global: BucketLimitConfig | undefined;
  /** Most counters kept in memory (per-IP buckets and others); the oldest are evicted beyond it. */
  maxKeys: number;
}

/** `MCP_RATE_LIMIT_FILE`: per-tool overrides and optional overrides of the other levels. */
export interface RateLimitFile {
  principal?: BucketLimitConfig | false | undefined;
  tools?: Record<string, BucketLimitConfig> | undefined;
  global?: BucketLimitConfig | false | undefined;
}

/** `false` (off), a hop count, or a list of trusted proxy addresses/CIDRs. */
export type TrustProxySetting = false | true | number | string[];

/** The resolved configuration of a mcp-guard server. Produced only by `loadConfig`. */
export interface GuardConfig {
  server: {
    host: string;
    port: number;
    /** Public base URL, used in discovery documents and challenges. */
    publicUrl: string | undefined;
    allowInsecure: boolean;
    trustProxy: TrustProxySetting;
    shutdownTimeoutMs: number;
    requestTimeoutMs: number;
    headersTimeoutMs: number;
    logLevel: 'error' | 'warn' | 'info' | 'http' | 'debug';
  };
  http: {
    corsOrigins: string[];
    /** Host header values accepted; empty means "derive from the bind address". */
    allowedHosts: string[];
    bodyLimitBytes: number;
    maxBatch: number;
    hsts: boolean;
  };
  auth: {
    token: string | undefined;
    tokenRole: string;
    apiKeys: StaticApiKey[];
    /** `leaseMs`: how long a token outlives an owner (stream, process) that stopped renewing it. */
    sessionTokens: { enabled: boolean; ttlMs: number; role: string; leaseMs: number };
    /** Development mode: where the process's development token is written for `mcp-guard dev`. */
    devTokenFile: string;
    metricsPublic: boolean;
  };
  rateLimit: RateLimitConfig;
  audit: {
    enabled: boolean;
    dir: string;
    /** HMAC key of the hash chain; never logged. */
    hmacKey: string | undefined;
    fsync: boolean;
    maxFileBytes: number;
    rotateDaily: boolean;
    /** 0: keep every file. */
    retentionDays: number;
    /** Most bytes a SIEM sink may fall behind the trail. */
    spoolMaxBytes: number;
    /** Byte budget of the audit directory; 0: none. */
    maxDirBytes: number;
    checkpointIntervalMs: number;
    /** Refusals (401, 429, 403) per source and reason written in full per window; the rest are counted. windowMs 0: all in full. */
    refusals: { windowMs: number; inFull: number };
    siem: {
      splunk: { url: string; token: string } | undefined;
      datadog: { url: string | undefined; apiKey: string } | undefined;
      sumo: { url: string } | undefined;
      webhook: { url: string; secret: string } | undefined;
    };
  };
  mcp: {
    path: string;
    mode: 'stateful' | 'stateless';
    sessionIdleMs: number;
    maxSessions: number;
    maxSessionsPerPrincipal: number;
    maxListenStreams: number;
    maxListenStreamsPerPrincipal: number;
    /** HMAC key sealing 2026-07-28 `input_required` request state; random per process when unset. */
    requestStateKey: string | undefined;
    requestStateTtlMs: number;
    /** Answer POSTs with one JSON body instead of an SSE stream. */
    jsonResponse: boolean;
    toolset: 'reference' | 'conformance';
  };
  redis: { url: string | undefined; prefix: string };
  /** Roles (built-in and from `MCP_RBAC_FILE`) and permission overrides for tools, prompts and resources. */
  rbac: RbacPolicy;
  credentials: CredentialsConfig;
  /** The optional authorization server for interactive clients (`MCP_AUTH_SERVER_*`). */
  authServer: AuthServerConfig;
  /** True when no credential is configured: session tokens are the only way in. */
  devMode: boolean;
}

/**
 * Parses `MCP_API_KEYS`: comma-separated `secret` or `name:role:secret`
 * entries, each optionally followed by `;tenant=<id>` and `;cidrs=<cidr>|<cidr>`.
 */
export function parseApiKeys(raw: string | undefined, problems: string[]): StaticApiKey[] {
  if (!raw) return [];
  const keys: StaticApiKey[] = [];
  raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .forEach((entry, index) => {
      const [main = '', ...attributes] = entry.split(';');
      const parts = main.split(':');
      const [name, role, secret] =
        parts.length >= 3 ? [parts[0]!, parts[1]!, parts.slice(2).join(':')] : [`static-${index + 1}`, 'operator', main];
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) problems.push(`MCP_API_KEYS: entry ${index + 1} has an invalid name`);
      if (secret.length < 32) problems.push(`MCP_API_KEYS: entry ${index + 1} must have a secret of at least 32 characters`);
      const key: StaticApiKey = { name, role: role || 'operator', secret };
      for (const attribute of attributes) {
        const [attr, value = ''] = attribute.split('=', 2) as [string, string?];
        if (attr === 'tenant' && /^[A-Za-z0-9_.-]{1,64}$/.test(value)) key.tenant = value;
        else if (attr === 'cidrs' && value.split('|').every((cidr) => validAddressOrCidr(cidr) && isIP(cidr.split('/')[0]!) !== 0))
          key.allowedCidrs = value.split('|');
        else problems.push(`MCP_API_KEYS: entry ${index + 1} has an invalid attribute (use ;tenant=<id> or ;cidrs=<cidr>|<cidr>)`);
      }
      keys.push(key);
    });
  const names = new Set(keys.map((key) => key.name));
  if (names.size !== keys.length) problems.push('MCP_API_KEYS: key names must be unique');
  return keys;
}

function validAddressOrCidr(item: string): boolean {
  const [address, prefix, extra] = item.split('/');
  if (extra !== undefined || !address) return false;
  const family = isIP(address);
  if (family === 0) return ['loopback', 'linklocal', 'uniquelocal'].includes(item);
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d+$/.test(prefix) && bits >= 0 && bits <= (family === 4 ? 32 : 128);
}

/** Parses `MCP_TRUST_PROXY`: off, `true`, a hop count, or trusted proxy addresses/CIDRs. */
export function parseTrustProxy(raw: string | undefined, problems: string[]): TrustProxySetting {
  const value = raw?.trim().toLowerCase();
  if (!value || value === 'false' || value === '0' || value === 'off') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const bad = items.filter((item) => !validAddressOrCidr(item));
  if (bad.length) problems.push('MCP_TRUST_PROXY: must be false, true, a hop count, or a list of IP addresses/CIDRs');
  return items;
}

/** Builds the nested configuration from parsed variables; cross-field problems go to `problems`. */
export function buildConfig(
  env: ParsedEnv,
  parsed: {
    apiKeys: StaticApiKey[];
    trustProxy: TrustProxySetting;
    rbac?: RbacPolicy | undefined;
    rateLimitFile?: RateLimitFile | undefined;
  },
  problems: string[],
): GuardConfig {
  const { apiKeys, trustProxy } = parsed;
  const rbac = parsed.rbac ?? defaultRbac();
  const roleUses: Array<[string, string]> = [
    ['MCP_AUTH_TOKEN_ROLE', env.MCP_AUTH_TOKEN_ROLE],
    ['MCP_SESSION_TOKEN_ROLE', env.MCP_SESSION_TOKEN_ROLE],
    ...apiKeys.map((key, index): [string, string] => [`MCP_API_KEYS (entry ${index + 1})`, key.role]),
  ];
  for (const [variable, role] of roleUses) {
    if (!Object.hasOwn(rbac.roles, role))
      problems.push(`${variable}: unknown role "${role}" (known: ${Object.keys(rbac.roles).join(', ')})`);
  }
  const hasCredentials =
    Boolean(env.MCP_AUTH_TOKEN) ||
    apiKeys.length > 0 ||
    Boolean(env.MCP_KEY_STORE || env.MCP_JWT_SECRET || env.MCP_JWT_PUBLIC_KEY_FILE || env.MCP_JWT_JWKS_URI || env.MCP_AUTH_SERVER);
  const sessionTokens = env.MCP_SESSION_TOKENS === 'auto' ? !hasCredentials : env.MCP_SESSION_TOKENS === 'true';
  const devMode = !hasCredentials;

  if (!hasCredentials && !sessionTokens) {
    problems.push('MCP_SESSION_TOKENS: cannot be false when no credential (MCP_AUTH_TOKEN, MCP_API_KEYS) is configured');
  }
  if (devMode && !isLoopbackHost(env.MCP_HOST) && !env.MCP_ALLOW_INSECURE) {
    problems.push(
      'MCP_HOST: refusing to bind a non-loopback address without credentials; configure MCP_AUTH_TOKEN or MCP_API_KEYS (or set MCP_ALLOW_INSECURE=true)',
    );
  }
  for (const origin of env.MCP_CORS_ORIGINS) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      problems.push('MCP_CORS_ORIGINS: each origin must look like https://app.example.com (scheme and host, no path)');
      break;
    }
  }

  return {
    server: {
      host: env.MCP_HOST,
      port: env.MCP_PORT,
      publicUrl: env.MCP_PUBLIC_URL?.replace(/\/+$/, ''),
      allowInsecure: env.MCP_ALLOW_INSECURE,
      trustProxy,
      shutdownTimeoutMs: env.MCP_SHUTDOWN_TIMEOUT,
      requestTimeoutMs: env.MCP_REQUEST_TIMEOUT,
      headersTimeoutMs: env.MCP_HEADERS_TIMEOUT,
      logLevel: env.MCP_LOG_LEVEL,
    },
    http: {
      corsOrigins: env.MCP_CORS_ORIGINS,
      allowedHosts: env.MCP_ALLOWED_HOSTS.map((host) => host.toLowerCase()),
      bodyLimitBytes: env.MCP_BODY_LIMIT,
      maxBatch: env.MCP_MAX_BATCH,
      hsts: env.MCP_HSTS,
    },
    auth: {
      token: env.MCP_AUTH_TOKEN,
      tokenRole: env.MCP_AUTH_TOKEN_ROLE,
      apiKeys,
      sessionTokens: {
        enabled: sessionTokens,
        ttlMs: env.MCP_SESSION_TOKEN_TTL,
        role: env.MCP_SESSION_TOKEN_ROLE,
        leaseMs: env.MCP_SESSION_TOKEN_LEASE,
      },
      devTokenFile: env.MCP_DEV_TOKEN_FILE,
      metricsPublic: env.MCP_METRICS_PUBLIC,
    },
    rateLimit: buildRateLimits(env, parsed.rateLimitFile ?? {}),
    audit: {
      enabled: env.MCP_AUDIT_ENABLED,
      dir: env.MCP_AUDIT_DIR,
      hmacKey: env.MCP_AUDIT_HMAC_KEY,
      fsync: env.MCP_AUDIT_FSYNC,
      maxFileBytes: env.MCP_AUDIT_MAX_FILE_SIZE,
      rotateDaily: env.MCP_AUDIT_ROTATE_DAILY,
      retentionDays: env.MCP_AUDIT_RETENTION_DAYS,
      spoolMaxBytes: env.MCP_AUDIT_SPOOL_MAX_BYTES,
      maxDirBytes: env.MCP_AUDIT_MAX_DIR_SIZE,
      checkpointIntervalMs: env.MCP_AUDIT_CHECKPOINT_INTERVAL,
      refusals: { windowMs: env.MCP_AUDIT_REFUSAL_WINDOW, inFull: env.MCP_AUDIT_REFUSALS_IN_FULL },
      siem: buildSiem(env, problems),
    },
    mcp: {
      path: env.MCP_PATH,
      mode: env.MCP_SESSION_MODE,
      sessionIdleMs: env.MCP_SESSION_IDLE_TIMEOUT,
      maxSessions: env.MCP_MAX_SESSIONS,
      maxSessionsPerPrincipal: env.MCP_MAX_SESSIONS_PER_PRINCIPAL,
      maxListenStreams: env.MCP_MAX_LISTEN_STREAMS,
      maxListenStreamsPerPrincipal: env.MCP_MAX_LISTEN_STREAMS_PER_PRINCIPAL,
      requestStateKey: env.MCP_REQUEST_STATE_KEY,
      requestStateTtlMs: env.MCP_REQUEST_STATE_TTL,
      jsonResponse: env.MCP_JSON_RESPONSE,
      toolset: env.MCP_TOOLSET,
    },
    redis: { url: env.REDIS_URL, prefix: env.MCP_REDIS_PREFIX },
    rbac,
    credentials: buildCredentials(env, problems, devMode),
    authServer: buildAuthServerConfig(env, problems),
    devMode,
  };
}

function bucket(perMinute: number, burst: number): BucketLimitConfig | undefined {
  return perMinute > 0 ? { perMinute, burst } : undefined;
}

/** The rate-limit levels from the environment, with `MCP_RATE_LIMIT_FILE` taking precedence. */
export function buildRateLimits(env: ParsedEnv, file: RateLimitFile): RateLimitConfig {
  const principal = bucket(env.MCP_RATE_LIMIT_PRINCIPAL, env.MCP_RATE_LIMIT_PRINCIPAL_BURST);
  const global = bucket(env.MCP_RATE_LIMIT_GLOBAL, env.MCP_RATE_LIMIT_GLOBAL_BURST);
  return {
    perIp: { limit: env.MCP_RATE_LIMIT, windowMs: env.MCP_RATE_LIMIT_WINDOW },
    principal: file.principal === false ? undefined : (file.principal ?? principal),
    tool: { default: bucket(env.MCP_RATE_LIMIT_TOOL, env.MCP_RATE_LIMIT_TOOL_BURST), tools: file.tools ?? {} },
    global: file.global === false ? undefined : (file.global ?? global),
    maxKeys: env.MCP_RATE_LIMIT_MAX_KEYS,
  };
}

/** The SIEM sinks the environment enables; a half-configured sink is a problem, not silently off. */
function buildSiem(env: ParsedEnv, problems: string[]): GuardConfig['audit']['siem'] {
  const pair = <T>(a: string | undefined, b: string | undefined, names: [string, string], make: () => T): T | undefined => {
    if (a && b) return make();
    if (a || b) problems.push(`${a ? names[1] : names[0]}: needed together with ${a ? names[0] : names[1]}`);
    return undefined;
  };
  return {
    splunk: pair(env.MCP_SIEM_SPLUNK_URL, env.MCP_SIEM_SPLUNK_TOKEN, ['MCP_SIEM_SPLUNK_URL', 'MCP_SIEM_SPLUNK_TOKEN'], () => ({
      url: env.MCP_SIEM_SPLUNK_URL!,
      token: env.MCP_SIEM_SPLUNK_TOKEN!,
    })),
    datadog: env.MCP_SIEM_DATADOG_API_KEY ? { url: env.MCP_SIEM_DATADOG_URL, apiKey: env.MCP_SIEM_DATADOG_API_KEY } : undefined,
    sumo: env.MCP_SIEM_SUMO_URL ? { url: env.MCP_SIEM_SUMO_URL } : undefined,
    webhook: pair(env.MCP_SIEM_WEBHOOK_URL, env.MCP_SIEM_WEBHOOK_SECRET, ['MCP_SIEM_WEBHOOK_URL', 'MCP_SIEM_WEBHOOK_SECRET'], () => ({
      url: env.MCP_SIEM_WEBHOOK_URL!,
      secret: env.MCP_SIEM_WEBHOOK_SECRET!,
    })),
  };
}
