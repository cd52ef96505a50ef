import { isIP } from 'node:net';
import { z } from 'zod';
import { authServerEnvShape } from '../auth-server/config.js';
import { BUCKET_MAX, LIMIT_LEVELS } from '../middleware/rate-limit/levels.js';
import { envBool, envBytes, envDuration, envInt, envList, envSecret, SECRET } from './env-types.js';

/** Where a development-mode server writes its development token, relative to its working directory. */
export const DEFAULT_DEV_TOKEN_FILE = '.mcp-guard/dev-token.json';

/**
 * Every environment variable mcp-guard reads, with its default. `.env.example`
 * documents the same list; a test keeps the two in step.
 * Secrets (described as {@link SECRET}, listed in SECRET_VARIABLES) may also be given as `NAME_FILE`.
 */
export const envSchema = z.object({
  // Server
  MCP_HOST: z.string().optional().default('127.0.0.1'),
  MCP_PORT: envInt(3000, 0, 65535),
  MCP_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  MCP_ALLOW_INSECURE: envBool(false),
  MCP_TRUST_PROXY: z.string().optional(),
  MCP_SHUTDOWN_TIMEOUT: envDuration(10_000, 100, 300_000),
  MCP_REQUEST_TIMEOUT: envDuration(30_000, 1_000, 600_000),
  MCP_HEADERS_TIMEOUT: envDuration(10_000, 1_000, 120_000),
  MCP_LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'debug']).optional().default('info'),

  // HTTP hygiene
  MCP_CORS_ORIGINS: envList,
  MCP_ALLOWED_HOSTS: envList,
  MCP_BODY_LIMIT: envBytes(1024 * 1024, 1024, 64 * 1024 * 1024),
  MCP_MAX_BATCH: envInt(100, 1, 10_000),
  MCP_HSTS: envBool(true),

  // Authentication
  MCP_AUTH_TOKEN: envSecret(32),
  MCP_AUTH_TOKEN_ROLE: z.string().optional().default('admin'),
  MCP_API_KEYS: z.string().optional().describe(SECRET),
  MCP_SESSION_TOKENS: z.enum(['auto', 'true', 'false']).optional().default('auto'),
  MCP_SESSION_TOKEN_TTL: envDuration(3_600_000, 10_000, 3_600_000),
  MCP_SESSION_TOKEN_ROLE: z.string().optional().default('operator'),
  MCP_SESSION_TOKEN_LEASE: envDuration(30_000, 1_000, 300_000),
  MCP_DEV_TOKEN_FILE: z.string().optional().default(DEFAULT_DEV_TOKEN_FILE),
  MCP_METRICS_PUBLIC: envBool(false),

  // Credentials
  MCP_KEY_STORE: z.string().optional(),
  MCP_JWT_SECRET: envSecret(32),
  MCP_JWT_PUBLIC_KEY_FILE: z.string().optional(),
  MCP_JWT_JWKS_URI: z.url({ protocol: /^https?$/ }).optional(),
  MCP_JWT_JWKS_REFETCH_INTERVAL: envDuration(30_000, 1_000, 3_600_000),
  MCP_JWT_JWKS_MAX_AGE: envDuration(600_000, 1_000, 86_400_000),
  MCP_JWT_ISSUER: z.string().optional(),
  MCP_JWT_AUDIENCE: envList,
  MCP_JWT_CLOCK_SKEW: envDuration(30_000, 0, 300_000),
  MCP_JWT_ROLE_CLAIM: z.string().optional().default('role'),
  MCP_JWT_SCOPE_CLAIM: z.string().optional().default('scope'),
  MCP_JWT_TENANT_CLAIM: z.string().optional().default('tenant'),
  MCP_OAUTH_AUTHORIZATION_SERVERS: envList,
  MCP_OAUTH_SCOPES: envList,
  MCP_TOKEN_ENDPOINT: z.enum(['auto', 'true', 'false']).optional().default('auto'),
  MCP_ACCESS_TOKEN_TTL: envDuration(15 * 60_000, 10_000, 86_400_000),
  MCP_REFRESH_TOKEN_TTL: envDuration(7 * 86_400_000, 60_000, 90 * 86_400_000),
  MCP_LOCKOUT_ATTEMPTS: envInt(5, 0, 1000),
  MCP_LOCKOUT_WINDOW: envDuration(15 * 60_000, 1_000, 86_400_000),
  MCP_LOCKOUT_DURATION: envDuration(30 * 60_000, 1_000, 7 * 86_400_000),

  // Rate limits
  // The levels and their defaults: src/middleware/rate-limit/levels.ts.
  MCP_RATE_LIMIT: envInt(LIMIT_LEVELS.ip.default.limit, 1, 1_000_000),
  MCP_RATE_LIMIT_WINDOW: envDuration(LIMIT_LEVELS.ip.default.windowMs, 1_000, 3_600_000),
  MCP_RATE_LIMIT_PRINCIPAL: envInt(LIMIT_LEVELS.principal.default.perMinute, 0, BUCKET_MAX.perMinute),
  MCP_RATE_LIMIT_PRINCIPAL_BURST: envInt(LIMIT_LEVELS.principal.default.burst, 1, BUCKET_MAX.burst),
  MCP_RATE_LIMIT_TOOL: envInt(LIMIT_LEVELS.tool.default.perMinute, 0, BUCKET_MAX.perMinute),
  MCP_RATE_LIMIT_TOOL_BURST: envInt(LIMIT_LEVELS.tool.default.burst, 1, BUCKET_MAX.burst),
  MCP_RATE_LIMIT_GLOBAL: envInt(LIMIT_LEVELS.global.default.perMinute, 0, BUCKET_MAX.perMinute),
  MCP_RATE_LIMIT_GLOBAL_BURST: envInt(LIMIT_LEVELS.global.default.burst, 1, BUCKET_MAX.burst),
  MCP_RATE_LIMIT_FILE: z.string().optional(),
  MCP_RATE_LIMIT_MAX_KEYS: envInt(100_000, 1_000, 10_000_000),

  // Audit
  MCP_AUDIT_ENABLED: envBool(true),
  MCP_AUDIT_DIR: z.string().optional().default('./audit'),
  MCP_AUDIT_HMAC_KEY: envSecret(32),
  MCP_AUDIT_FSYNC: envBool(false),
  MCP_AUDIT_MAX_FILE_SIZE: envBytes(100 * 1024 * 1024, 4096, 10 * 1024 * 1024 * 1024),
  MCP_AUDIT_ROTATE_DAILY: envBool(true),
  MCP_AUDIT_RETENTION_DAYS: envInt(0, 0, 36_500),
  MCP_AUDIT_SPOOL_MAX_BYTES: envBytes(64 * 1024 * 1024, 64 * 1024, 64 * 1024 * 1024 * 1024),
  MCP_AUDIT_MAX_DIR_SIZE: envBytes(0, 0, 2 ** 50).refine(
    (bytes) => bytes === 0 || bytes >= 1024 * 1024,
    'must be 0 (no budget) or at least 1mb',
  ),
  MCP_AUDIT_CHECKPOINT_INTERVAL: envDuration(10_000, 1_000, 3_600_000),
  MCP_AUDIT_REFUSAL_WINDOW: envDuration(60_000, 0, 3_600_000).refine((ms) => ms === 0 || ms >= 1_000, 'must be 0 (off) or at least 1s'),
  MCP_AUDIT_REFUSALS_IN_FULL: envInt(10, 0, 100_000),
  MCP_SIEM_SPLUNK_URL: z.url({ protocol: /^https?$/ }).optional(),
  MCP_SIEM_SPLUNK_TOKEN: envSecret(1),
  MCP_SIEM_DATADOG_URL: z.url({ protocol: /^https?$/ }).optional(),
  MCP_SIEM_DATADOG_API_KEY: envSecret(1),
  MCP_SIEM_SUMO_URL: envSecret(1),
  MCP_SIEM_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  MCP_SIEM_WEBHOOK_SECRET: envSecret(32),

  // MCP endpoint
  MCP_PATH: z
    .string()
    .regex(/^\/[A-Za-z0-9/_-]*$/, 'must be a path such as /mcp')
    .optional()
    .default('/mcp'),
  MCP_SESSION_MODE: z.enum(['stateful', 'stateless']).optional().default('stateful'),
  MCP_SESSION_IDLE_TIMEOUT: envDuration(30 * 60_000, 1_000, 24 * 3_600_000),
  MCP_MAX_SESSIONS: envInt(1000, 1, 1_000_000),
  MCP_MAX_SESSIONS_PER_PRINCIPAL: envInt(10, 1, 100_000),
  MCP_MAX_LISTEN_STREAMS: envInt(1000, 1, 1_000_000),
  MCP_MAX_LISTEN_STREAMS_PER_PRINCIPAL: envInt(4, 1, 10_000),
  MCP_REQUEST_STATE_KEY: envSecret(32),
  MCP_REQUEST_STATE_TTL: envDuration(600_000, 10_000, 24 * 3_600_000),
  MCP_JSON_RESPONSE: envBool(false),
  MCP_TOOLSET: z.enum(['reference', 'conformance']).optional().default('reference'),
  MCP_RBAC_FILE: z.string().optional(),
  /** Gateway mode: the gateway file (read by `mcp-guard gateway`, see src/gateway/file.ts). */
  MCP_GATEWAY_FILE: z.string().optional(),

  // Shared state
  REDIS_URL: z
    .url({ protocol: /^rediss?$/ })
    .optional()
    .describe(SECRET),
  MCP_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,64}$/, 'must be 1-64 characters of letters, digits, ":", "_" or "-"')
    .optional()
    .default('mcp-guard:'),

  // Authorization server for interactive clients (src/auth-server/config.ts)
  ...authServerEnvShape,
});

export type EnvInput = z.input<typeof envSchema>;
export type ParsedEnv = z.output<typeof envSchema>;

/**
 * Variables that hold secrets: readable from `NAME_FILE`, never echoed. Derived from the schema,
 * so a variable declared with `envSecret` (or described as {@link SECRET}) cannot be left out.
 */
export const SECRET_VARIABLES: readonly string[] = Object.entries(envSchema.shape)
  .filter(([, schema]) => schema.description === SECRET)
  .map(([name]) => name);

/** Variables read without the `MCP_` prefix, as fallbacks or by convention. */
export const FALLBACK_VARIABLES: Readonly<Record<string, string>> = { PORT: 'MCP_PORT', HOST: 'MCP_HOST' };

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}
