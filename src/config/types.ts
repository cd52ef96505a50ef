import type { AuthServerConfig } from '../auth-server/config.js';
import type { RbacPolicy } from './rbac.js';

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
