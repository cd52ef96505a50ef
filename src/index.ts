// The public API of mcp-guard. Everything importable from 'mcp-guard' is listed here.

export { createSecurityStack } from './stack.js';
export type { SecurityStack, SecurityStackOptions } from './stack.js';
export { createApp } from './app.js';
export type { AppDependencies, GuardApp } from './app.js';
export { startServer } from './main.js';
export type { RunningServer } from './main.js';

export { loadConfig, ConfigError } from './config/load.js';
export type { GuardConfig, StaticApiKey, TrustProxySetting } from './config/config.js';
export { describePosture } from './config/posture.js';
export type { Posture, PostureWarning } from './config/posture.js';

export { ErrorCode } from './errors/codes.js';
export { GuardError } from './errors/guard-error.js';
export type { GuardErrorDetails } from './errors/guard-error.js';

export { Permission, BUILT_IN_ROLES, hasPermission } from './core/permissions.js';
export type { RoleMap } from './core/permissions.js';
export { toAuthInfo, principalOf } from './core/principal.js';
export type { AuthMethod, Principal } from './core/principal.js';

export { createRequestId } from './middleware/request-id.js';
export type { RequestIdOptions } from './middleware/request-id.js';
export { createSecurityHeaders } from './middleware/security-headers.js';
export type { SecurityHeadersOptions } from './middleware/security-headers.js';
export { createCors } from './middleware/cors.js';
export type { CorsOptions } from './middleware/cors.js';
export { createOriginGuard, checkOrigin } from './middleware/origin-guard.js';
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
export { createStaticTokenVerifier } from './middleware/auth/static-token.js';
export type { StaticTokenOptions } from './middleware/auth/static-token.js';
export { createStaticApiKeyVerifier } from './middleware/auth/static-api-keys.js';
export type { StaticApiKeyOptions } from './middleware/auth/static-api-keys.js';
export { createSessionTokenVerifier } from './middleware/auth/session-token.js';
export type { SessionTokenVerifierOptions } from './middleware/auth/session-token.js';
export type { Credential, CredentialVerifier, RoleResolver } from './middleware/auth/verifier.js';
export { createAuthorize } from './middleware/authorize.js';
export type { AuthorizeOptions } from './middleware/authorize.js';
export { requirePermission } from './middleware/require-permission.js';
export { createRequestLog } from './middleware/request-log.js';
export type { RequestLogOptions } from './middleware/request-log.js';
export { createAuditExporter } from './audit/exporter.js';
export type { AuditExporter, AuditExporterOptions } from './audit/exporter.js';
export { splunkSink, datadogSink, sumoSink, webhookSink, webhookSignature } from './audit/sinks/index.js';
export type { AuditSink, AuditRecord } from './audit/sinks/index.js';
export { verifyAuditDir } from './audit/verify.js';
export type { StreamReport, ChainBreak } from './audit/verify.js';
export { createHttpMetrics } from './middleware/http-metrics.js';
export type { HttpMetricsOptions } from './middleware/http-metrics.js';
export { createErrorHandler } from './middleware/error-handler.js';
export type { ErrorHandlerOptions } from './middleware/error-handler.js';

export { createGuardMetrics } from './metrics/guard-metrics.js';
export type { GuardMetrics, GuardMetricsOptions } from './metrics/guard-metrics.js';
export { createLogger } from './logging/logger.js';
export type { Logger, LoggerOptions } from './logging/logger.js';

export { createJsonlAuditLogger } from './audit/jsonl-writer.js';
export type { JsonlAuditOptions, JsonlAuditLogger } from './audit/jsonl-writer.js';
export { createRefusalAggregator } from './audit/refusals.js';
export type { RefusalAggregator, RefusalAggregatorOptions } from './audit/refusals.js';
export { AuditTrailError } from './audit/errors.js';
export type { AuditLogger } from './audit/types.js';
export type { AuditEvent, AuditEventInput } from './audit/event.js';

export { createMemoryStore } from './stores/memory.js';
export type { MemoryStoreOptions } from './stores/memory.js';
export { createRedisStore } from './stores/redis.js';
export { createResilientStore } from './stores/resilient.js';
export type { ResilientStore, ResilientStoreOptions } from './stores/resilient.js';
export type { RedisStoreOptions } from './stores/redis.js';
export type { StateStore, BucketResult, BucketSpec, CounterResult } from './stores/types.js';
export { createSessionTokenStore } from './stores/session-tokens.js';
export type { SessionTokenStore, IssuedSessionToken } from './stores/session-tokens.js';

export { createMcpEndpoint } from './mcp/endpoint.js';
export type { McpEndpoint, McpEndpointOptions, SessionHooks } from './mcp/endpoint.js';
export { createServerFactory, requestStateBinding } from './mcp/server.js';
export type { ServerFactory, ServerFactoryOptions } from './mcp/server.js';
export { defineTool, installTools, ToolError } from './mcp/toolset.js';
export { createConformanceToolset } from './mcp/conformance-toolset.js';
export type { ToolDefinition, Toolset, ToolsetPolicy, ToolContext, McpHooks } from './mcp/toolset.js';

export { generateApiKey, parseApiKey } from './credentials/api-key-format.js';
export type { GeneratedKey, KeyEnvironment } from './credentials/api-key-format.js';
export { openApiKeyStore, checkApiKey } from './credentials/api-key-store.js';
export type { ApiKeyStore, ApiKeyStoreOptions, ApiKeyFailure } from './credentials/api-key-store.js';
export { readKeyStoreFile, writeKeyStoreFile, KeyStoreError } from './credentials/key-store-file.js';
export type { KeyStoreData, StoredKey } from './credentials/key-store-file.js';
export { addKey, revokeKey, rotateKey, summarizeKeys, hashApiKey } from './credentials/key-lifecycle.js';
export type { NewKeySpec, KeySummary } from './credentials/key-lifecycle.js';
export { createRevocationList } from './credentials/revocations.js';
export type { RevocationList } from './credentials/revocations.js';
export { createJwtValidator, JwtError } from './credentials/jwt.js';
export type { JwtValidatorOptions, JwtIdentity, JwtClaimNames, JwtFailure } from './credentials/jwt.js';
export { generateToken } from './credentials/generate-token.js';
export type { GenerateTokenOptions } from './credentials/generate-token.js';
export { createJwksCache } from './credentials/jwks.js';
export type { JwksCache, JwksCacheOptions } from './credentials/jwks.js';
export { createLockout } from './credentials/lockout.js';
export type { Lockout, LockoutOptions, LockoutSubjects, LockState } from './credentials/lockout.js';
export { createRefreshTokenStore } from './credentials/refresh-tokens.js';
export type { RefreshTokenStore, RefreshGrant, RefreshResult } from './credentials/refresh-tokens.js';
export { createTokenService } from './credentials/token-service.js';
export type { TokenService, TokenServiceOptions, GrantResult, IssuedTokens } from './credentials/token-service.js';
export { createApiKeyStoreVerifier } from './middleware/auth/api-key-store.js';
export type { ApiKeyStoreVerifierOptions } from './middleware/auth/api-key-store.js';
export { createJwtVerifier } from './middleware/auth/jwt.js';
export type { JwtVerifierOptions } from './middleware/auth/jwt.js';
export { createOAuthTokenRoute } from './routes/oauth-token.js';
export type { OAuthTokenRouteOptions } from './routes/oauth-token.js';
export { createProtectedResourceMetadata } from './routes/protected-resource-metadata.js';
export type { ProtectedResourceMetadata, ProtectedResourceMetadataOptions } from './routes/protected-resource-metadata.js';

export { createGatewayApp } from './gateway/app.js';
export type { GatewayApp, GatewayDependencies, GatewayRoute } from './gateway/app.js';
export { startGateway } from './gateway/start.js';
export type { RunningGateway } from './gateway/start.js';
export { loadGatewayFile, parseGatewayFile, GatewayFileError } from './gateway/file.js';
export type { GatewayFile, UpstreamSpec, HttpUpstreamSpec, StdioUpstreamSpec, SecretRef } from './gateway/file.js';
export { GatewayRpcCode } from './gateway/errors.js';

// Tool-definition pinning (docs/pinning.md).
export { TOOL_BLOCKED_RPC } from './errors/codes.js';
export { readServerDefinitions } from './pinning/server-definitions.js';
export type { PinningOptions, LocalPinning } from './pinning/library.js';
export { canonicalJson, definitionHash } from './pinning/canonical.js';
export type { Definition, DefinitionKind, DefinitionSet } from './pinning/canonical.js';
export { evaluate, judge } from './pinning/evaluate.js';
export type { Evaluation, PinMode, PinStatus, Verdict } from './pinning/evaluate.js';
export { screenDefinition } from './pinning/screen.js';
export type { Finding, FindingCode, ScreeningLimits } from './pinning/screen.js';
export { readLock, parseLock, LOCK_FILE_NAME } from './pinning/lock.js';
export type { ToolLock, LockEntry, LockSection, LockState as ToolLockState } from './pinning/lock.js';
export type { GatewayPinning } from './pinning/setup.js';
export type { PinPosture } from './pinning/guard.js';
