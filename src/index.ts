// The public API of mcp-guard: what a user composes. Everything importable from 'mcp-guard' is
// listed here, and docs/library.md ("Public API") lists the same names (test/docs/api.test.ts).

// The stack, and the reference server to embed.
export { createSecurityStack } from './stack.js';
export type { SecurityStack, SecurityStackOptions } from './stack.js';
export { createApp } from './app.js';
export type { AppDependencies, GuardApp } from './app.js';
export { startServer } from './main.js';
export type { RunningServer } from './main.js';
export { loadConfig, ConfigError } from './config/load.js';
export type { GuardConfig } from './config/config.js';
export { describePosture } from './config/posture.js';
export type { Posture, PostureWarning } from './config/posture.js';

// Errors, permissions, principals.
export { ErrorCode } from './errors/codes.js';
export { GuardError } from './errors/guard-error.js';
export type { GuardErrorDetails } from './errors/guard-error.js';
export { Permission, BUILT_IN_ROLES, hasPermission } from './core/permissions.js';
export type { RoleMap } from './core/permissions.js';
export { toAuthInfo, principalOf } from './core/principal.js';
export type { AuthMethod, Principal } from './core/principal.js';

// Each middleware on its own, for apps that place them one by one.
export { createRequestId } from './middleware/request-id.js';
export type { RequestIdOptions } from './middleware/request-id.js';
export { createSecurityHeaders } from './middleware/security-headers.js';
export type { SecurityHeadersOptions } from './middleware/security-headers.js';
export { createCors } from './middleware/cors.js';
export type { CorsOptions } from './middleware/cors.js';
export { createOriginGuard } from './middleware/origin-guard.js';
export type { OriginGuardOptions } from './middleware/origin-guard.js';
export { createIpRateLimit } from './middleware/rate-limit/ip.js';
export type { IpRateLimitOptions } from './middleware/rate-limit/ip.js';
export { createPrincipalRateLimit, createToolRateLimit, createGlobalRateLimit } from './middleware/rate-limit/bucket.js';
export type {
  BucketLimit,
  PrincipalRateLimitOptions,
  ToolRateLimitOptions,
  GlobalRateLimitOptions,
} from './middleware/rate-limit/bucket.js';
export { createLimiterStore } from './middleware/rate-limit/store-adapter.js';
export { createBodyParser } from './middleware/body.js';
export type { BodyParserOptions } from './middleware/body.js';
export { createAuthenticate } from './middleware/auth/authenticate.js';
export type { AuthenticateOptions } from './middleware/auth/authenticate.js';
export { createAuthorize } from './middleware/authorize.js';
export type { AuthorizeOptions } from './middleware/authorize.js';
export { requirePermission } from './middleware/require-permission.js';
export { createHttpMetrics } from './middleware/http-metrics.js';
export type { HttpMetricsOptions } from './middleware/http-metrics.js';
export { createRequestLog } from './middleware/request-log.js';
export type { RequestLogOptions } from './middleware/request-log.js';
export { createErrorHandler } from './middleware/error-handler.js';
export type { ErrorHandlerOptions } from './middleware/error-handler.js';

// Credentials: each kind is a verifier yielding the same principal.
export { credentialVerifiers } from './middleware/auth/verifiers.js';
export type { CredentialSources } from './middleware/auth/verifiers.js';
export type { Credential, CredentialVerifier, RoleResolver } from './middleware/auth/verifier.js';
export { createApiKeyStoreVerifier } from './middleware/auth/api-key-store.js';
export type { ApiKeyStoreVerifierOptions } from './middleware/auth/api-key-store.js';
export { openApiKeyStore } from './credentials/api-key-store.js';
export type { ApiKeyStore, ApiKeyStoreOptions } from './credentials/api-key-store.js';
export { createJwtVerifier } from './middleware/auth/jwt.js';
export type { JwtVerifierOptions } from './middleware/auth/jwt.js';
export { createJwtValidator } from './credentials/jwt.js';
export type { JwtValidatorOptions } from './credentials/jwt.js';
export { createJwksCache } from './credentials/jwks.js';
export type { JwksCache, JwksCacheOptions } from './credentials/jwks.js';
export { createRevocationList } from './credentials/revocations.js';
export type { RevocationList } from './credentials/revocations.js';
export { createLockout } from './credentials/lockout.js';
export type { Lockout, LockoutOptions } from './credentials/lockout.js';
export { createProtectedResourceMetadata } from './routes/protected-resource-metadata.js';
export type { ProtectedResourceMetadata, ProtectedResourceMetadataOptions } from './routes/protected-resource-metadata.js';

// State, audit, metrics, logs.
export { createMemoryStore } from './stores/memory.js';
export type { MemoryStoreOptions } from './stores/memory.js';
export { createRedisStore } from './stores/redis.js';
export type { RedisStoreOptions } from './stores/redis.js';
export { createResilientStore } from './stores/resilient.js';
export type { ResilientStore, ResilientStoreOptions } from './stores/resilient.js';
export type { StateStore } from './stores/types.js';
export { createSessionTokenStore } from './stores/session-tokens.js';
export type { SessionTokenStore } from './stores/session-tokens.js';
export { createJsonlAuditLogger } from './audit/jsonl-writer.js';
export type { JsonlAuditOptions, JsonlAuditLogger } from './audit/jsonl-writer.js';
export { createRefusalAggregator } from './audit/refusals.js';
export type { RefusalAggregator, RefusalAggregatorOptions } from './audit/refusals.js';
export type { AuditLogger } from './audit/types.js';
export type { AuditEvent, AuditEventInput } from './audit/event.js';
export { verifyAuditDir } from './audit/verify.js';
export { createAuditExporter } from './audit/exporter.js';
export type { AuditExporter, AuditExporterOptions } from './audit/exporter.js';
export { splunkSink, datadogSink, sumoSink, webhookSink } from './audit/sinks/index.js';
export type { AuditSink } from './audit/sinks/index.js';
export { createGuardMetrics } from './metrics/guard-metrics.js';
export type { GuardMetrics, GuardMetricsOptions } from './metrics/guard-metrics.js';
export { createLogger } from './logging/logger.js';
export type { Logger, LoggerOptions } from './logging/logger.js';

// MCP: the dual-era endpoint with principal-bound 2025 sessions, and sealed input_required state.
export { createMcpEndpoint } from './mcp/endpoint.js';
export type { McpEndpoint, McpEndpointOptions, SessionHooks } from './mcp/endpoint.js';
export type { ServerFactory, ServerContextInput } from './mcp/server.js';
export { requestStateBinding } from './mcp/server.js';

// The gateway: the whole stack in front of MCP servers it did not write (docs/gateway.md).
export { createGatewayApp } from './gateway/app.js';
export type { GatewayApp, GatewayDependencies, GatewayRoute } from './gateway/app.js';
export { startGateway } from './gateway/start.js';
export type { RunningGateway } from './gateway/start.js';
export { loadGatewayFile, parseGatewayFile, GatewayFileError } from './gateway/file.js';
export type { GatewayFile, UpstreamSpec, HttpUpstreamSpec, StdioUpstreamSpec, SecretRef } from './gateway/file.js';
export { GatewayRpcCode } from './gateway/errors.js';

// Tool-definition pinning in library mode (docs/pinning.md): the stack's `pinning` option.
export { TOOL_BLOCKED_RPC } from './errors/codes.js';
export { readServerDefinitions } from './pinning/server-definitions.js';
export type { PinningOptions, LocalPinning } from './pinning/library.js';
export type { Definition, DefinitionKind, DefinitionSet } from './pinning/canonical.js';
export type { PinMode } from './pinning/evaluate.js';
