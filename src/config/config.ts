import { buildAuthServerConfig } from '../auth-server/config.js';
import { buildCredentials } from './credentials.js';
import { buildRateLimits } from './rate-limits.js';
import { defaultRbac, type RbacPolicy } from './rbac.js';
import { isLoopbackHost, type ParsedEnv } from './schema.js';
import type { GuardConfig, RateLimitFile, StaticApiKey, TrustProxySetting } from './types.js';

export type {
  BucketLimitConfig,
  CredentialsConfig,
  GuardConfig,
  RateLimitConfig,
  RateLimitFile,
  StaticApiKey,
  TrustProxySetting,
} from './types.js';
export { parseApiKeys, parseTrustProxy } from './parse.js';

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
