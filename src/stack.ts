import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import type { Store } from 'express-rate-limit';
import { createNullAuditLogger, type AuditLogger } from './audit/types.js';
import { BUILT_IN_ROLES, type RoleMap } from './core/permissions.js';
import type { ChallengeBuilder } from './errors/respond.js';
import type { Logger } from './logging/logger.js';
import { createGuardMetrics, type GuardMetrics } from './metrics/guard-metrics.js';
import { createAuthenticate } from './middleware/auth/authenticate.js';
import type { Credential, RoleResolver } from './middleware/auth/verifier.js';
import { credentialVerifiers, type CredentialSources } from './middleware/auth/verifiers.js';
import type { Lockout } from './credentials/lockout.js';
import { createAuthorize, type PolicyDefaults } from './middleware/authorize.js';
import { classifyOnce, routingHeadersOf, type ParamHeader } from './mcp/era.js';
import { createMcpRequestCheck, createRoutingHeaders } from './middleware/mcp-request.js';
import { createRequestLog } from './middleware/request-log.js';
import { composeMiddleware } from './middleware/compose.js';
import { createCredentialIpCheck } from './middleware/credential-ip.js';
import { createBodyParser } from './middleware/body.js';
import { createCors } from './middleware/cors.js';
import { createErrorHandler } from './middleware/error-handler.js';
import { createHttpMetrics } from './middleware/http-metrics.js';
import { createOriginGuard } from './middleware/origin-guard.js';
import { createIpRateLimit } from './middleware/rate-limit/ip.js';
import { LIMIT_LEVELS } from './middleware/rate-limit/levels.js';
import { createAdmission } from './middleware/rate-limit/admission.js';
import { limiterStoreBacking } from './middleware/rate-limit/store-adapter.js';
import { createGlobalRateLimit, createPrincipalRateLimit, createToolRateLimit, type BucketLimit } from './middleware/rate-limit/bucket.js';
import type { StateStore } from './stores/types.js';
import { createRequestId } from './middleware/request-id.js';
import { requirePermission } from './middleware/require-permission.js';
import { createSecurityHeaders } from './middleware/security-headers.js';
import { createLocalPinning, type LocalPinning, type PinningOptions } from './pinning/library.js';

/** Options of {@link createSecurityStack}. Each group configures one middleware. */
export interface SecurityStackOptions {
  /** Where credentials come from (see {@link CredentialSources}), and the lockout. */
  auth: CredentialSources & {
    /** Brute-force lockout checked before and fed after verification. Default none. */
    lockout?: Lockout;
    /** The key id a credential names, for per-key lockout. */
    keyIdOf?: (credential: Credential) => string | undefined;
  };
  /** Role name to permissions. Default the built-in roles. */
  roles?: RoleMap;
  /** Tool name to the permission it requires (the authorization policy). */
  tools: Record<string, string>;
  /** Prompt name to the permission it requires. Undeclared prompts are refused. Default none. */
  prompts?: Record<string, string>;
  /** Resource URI or URI template to the permission it requires. Undeclared resources are refused. Default none. */
  resources?: Record<string, string>;
  /** Custom JSON-RPC methods of your server to the permission each requires. Default none (refused). */
  methods?: Record<string, string>;
  /** What a tool, prompt or resource not named above requires. Default: nothing, it is refused. */
  defaults?: PolicyDefaults;
  /**
   * Per tool, the arguments its schema mirrors into `Mcp-Param-*` headers
   * (`x-mcp-header`): checked against the body before any decision. A
   * function is read per request (tools that change at run time, such as a
   * gateway's upstream's). Default none.
   */
  paramHeaders?: Record<string, ParamHeader[]> | (() => Readonly<Record<string, readonly ParamHeader[]>>);
  /** Browser origins allowed (CORS and the Origin check). Default none. */
  corsOrigins?: string[];
  /** Host header names allowed (DNS-rebinding protection). Empty: not checked. Default none. */
  allowedHosts?: string[];
  /** Per-IP rate limit; `false` turns it off. Default `LIMIT_LEVELS.ip.default` (300 per minute). */
  rateLimit?: { limit: number; windowMs: number; store?: Store } | false;
  /**
   * Token-bucket limits per principal, per principal and tool, and across all clients, kept in
   * `store` (memory, or Redis shared by every replica). Default: none.
   */
  limits?: {
    store: StateStore;
    principal?: BucketLimit | undefined;
    tool?: { default?: BucketLimit | undefined; tools?: Record<string, BucketLimit> } | undefined;
    global?: BucketLimit | undefined;
  };
  body?: { limitBytes?: number; maxBatch?: number };
  headers?: { hsts?: boolean };
  audit?: AuditLogger;
  metrics?: GuardMetrics;
  logger?: Logger;
  /** Builds `WWW-Authenticate` for 401 and 403. Default: a bare RFC 6750 challenge. */
  challenge?: ChallengeBuilder;
  /**
   * Tool-definition pinning of your server's tools, prompts and resource
   * templates against a lock file (docs/pinning.md). Default: off.
   */
  pinning?: PinningOptions;
  /**
   * Check the options once for valid but dangerous settings (wildcard CORS, no Host allowlist, no
   * audit trail, and at the first request Express's `trust proxy` set to `true`) and report each
   * once, with the codes of docs/configuration.md, to `logger` (or `console.warn`). Default `true`.
   */
  validate?: boolean;
}

/** The coded warnings of a stack's options (docs/configuration.md, "Start-up warnings"). */
export function stackWarnings(
  options: Pick<SecurityStackOptions, 'corsOrigins' | 'allowedHosts' | 'audit'>,
): Array<{ code: string; message: string }> {
  const warnings: Array<{ code: string; message: string }> = [];
  if (options.corsOrigins?.includes('*')) {
    warnings.push({ code: 'MCPG_CORS_WILDCARD', message: "corsOrigins ['*'] lets any web page call this server from a browser." });
  }
  if (!options.allowedHosts?.length) {
    warnings.push({
      code: 'MCPG_NO_HOST_ALLOWLIST',
      message: 'No allowedHosts: the Host header is not checked (DNS rebinding). Name the hosts this server answers to.',
    });
  }
  if (!options.audit) warnings.push({ code: 'MCPG_AUDIT_OFF', message: 'No audit logger: no audit trail is written.' });
  return warnings;
}

/**
 * The security stack: an Express router to mount in front of an MCP
 * endpoint, carrying its parts for apps that place them one by one.
 */
export type SecurityStack = Router & {
  /** The whole chain as one handler (what the router mounts): errors answered as JSON-RPC, then `next()` on success. */
  guard: RequestHandler;
  /** Request id, metrics, request log, security headers, CORS, Origin/Host check: for every route. */
  perimeter: RequestHandler[];
  /** Per-IP rate limit (empty when off). */
  ipRateLimit: RequestHandler[];
  /** Limits before authentication: per IP, then the global cap (empty when off). */
  preAuthLimits: RequestHandler[];
  /** Limits after authentication: per principal (empty when off). */
  principalRateLimit: RequestHandler[];
  /** Per principal and tool on `tools/call` (empty when off). */
  toolRateLimit: RequestHandler[];
  bodyParser: RequestHandler;
  authenticate: RequestHandler;
  /** Records a 2026-07-28 request's routing-header claims, before the body. */
  routingHeaders: RequestHandler;
  /** Classifies the parsed body into its era and verifies the routing headers against it. */
  mcpRequestCheck: RequestHandler;
  /** Per-message authorization: early from routing headers, finally from the verified body (mount twice). */
  authorize: RequestHandler;
  /** Errors as JSON-RPC (MCP endpoint). */
  rpcErrorHandler: ErrorRequestHandler;
  /** Errors as `{ error: { code, message } }` (other routes). */
  jsonErrorHandler: ErrorRequestHandler;
  resolveRole: RoleResolver;
  /** Gate for the app's own routes; mount after `authenticate`. */
  requirePermission: typeof requirePermission;
  metrics: GuardMetrics;
  audit: AuditLogger;
  /** Tool-definition pinning, when the `pinning` option is set: `refresh()` after your tools change, `close()` on shutdown. */
  pinning: LocalPinning | undefined;
};

/**
 * Builds every middleware once and mounts them in request order: request id,
 * metrics, request log, security headers, CORS (preflights answered here),
 * Origin/Host check, per-IP and global limits, authentication (headers only:
 * no body of an unauthenticated client is ever parsed), per-principal limit,
 * the early decision from a 2026-07-28 request's routing headers (permission,
 * per-tool limit: refusals only), body limits and parsing, era
 * classification with the routing headers verified against the body, the
 * per-message authorization on the body (the final word), the per-tool
 * limit for calls not counted yet, and the JSON-RPC error handler. With a
 * shared `limits.store` (Redis), the chain counts every limit of a request in
 * one round trip after authentication instead (see `createAdmission`); a
 * request refused before that is still counted per IP and globally. Mount the
 * result in front of your MCP handler:
 *
 * @example
 * const stack = createSecurityStack({ auth: { token }, tools: { echo: 'tools:call' } });
 * app.all('/mcp', stack, mcpHandler, stack.rpcErrorHandler);
 */
export function createSecurityStack(options: SecurityStackOptions): SecurityStack {
  const roles = options.roles ?? BUILT_IN_ROLES;
  const resolveRole: RoleResolver = (role) => (Object.hasOwn(roles, role) ? roles[role] : undefined);
  const audit = options.audit ?? createNullAuditLogger();
  const metrics = options.metrics ?? createGuardMetrics({ tools: Object.keys(options.tools) });
  const { logger } = options;
  const { auth } = options;

  const verifiers = credentialVerifiers(auth, resolveRole);
  if (verifiers.length === 0)
    throw new TypeError('createSecurityStack: configure at least one credential (token, API keys, session tokens or a verifier)');

  const warn = (warning: { code: string; message: string }): void => {
    if (logger) logger.warn(warning.message, { code: warning.code });
    else console.warn(`mcp-guard ${warning.code}: ${warning.message}`);
  };
  const validate = options.validate ?? true;
  if (validate) for (const warning of stackWarnings(options)) warn(warning);
  let proxyChecked = !validate;
  // Express's trust proxy is the app's setting: it can only be read once a request arrives.
  const checkTrustProxy: RequestHandler = (req, _res, next) => {
    if (!proxyChecked) {
      proxyChecked = true;
      if (req.app?.get('trust proxy') === true) {
        warn({
          code: 'MCPG_TRUST_PROXY_ALL',
          message:
            "Express's trust proxy is true: any client can choose the address it is seen from (per-address limits, lockouts, CIDR allowlists). Set the proxies' addresses instead.",
        });
      }
    }
    next();
  };

  const corsOrigins = options.corsOrigins ?? [];
  const perimeter = [
    ...(validate ? [checkTrustProxy] : []),
    createRequestId(),
    createHttpMetrics({ metrics }),
    ...(logger ? [createRequestLog({ logger })] : []),
    createSecurityHeaders(options.headers ?? {}),
    createCors({ origins: corsOrigins }),
    createOriginGuard({ allowedOrigins: corsOrigins, allowedHosts: options.allowedHosts ?? [] }),
  ];
  const rateLimit: { limit: number; windowMs: number; store?: Store } | false = options.rateLimit ?? LIMIT_LEVELS.ip.default;
  const ipRateLimit = rateLimit === false ? [] : [createIpRateLimit({ ...rateLimit, audit, ...(metrics ? { metrics } : {}) })];
  const limits = options.limits;
  const limitDeps = limits ? { store: limits.store, audit, metrics, ...(logger ? { logger } : {}) } : undefined;
  const globalRateLimit = limitDeps && limits?.global ? [createGlobalRateLimit({ ...limitDeps, limit: limits.global })] : [];
  const principalRateLimit = limitDeps && limits?.principal ? [createPrincipalRateLimit({ ...limitDeps, limit: limits.principal })] : [];
  const toolLimits = limits?.tool;
  const toolRateLimit =
    limitDeps && toolLimits && (toolLimits.default || Object.keys(toolLimits.tools ?? {}).length)
      ? [
          createToolRateLimit({
            ...limitDeps,
            ...(toolLimits.default ? { defaultLimit: toolLimits.default } : {}),
            tools: toolLimits.tools ?? {},
          }),
        ]
      : [];
  const preAuthLimits = [...ipRateLimit, ...globalRateLimit];
  // On a shared store (Redis), the composed chain counts every limit of a request in one round trip:
  // per IP (when it counts in the same store), global, per principal and, from a 2026-07-28 request's
  // routing headers, per tool, after authentication (which reads headers only). A request that
  // authentication refuses is still counted against the per-IP and global limits. On a memory store
  // nothing would be saved: the limits run one by one, per IP and global before authentication.
  const ipBacking = rateLimit !== false && rateLimit.store ? limiterStoreBacking(rateLimit.store) : undefined;
  const ipCounted = rateLimit !== false && ipBacking !== undefined && ipBacking.store === limits?.store;
  const admission =
    limits && limitDeps && limits.store.kind !== 'memory'
      ? createAdmission({
          ...limitDeps,
          ip:
            ipCounted && rateLimit && ipBacking
              ? { limit: rateLimit.limit, windowMs: rateLimit.windowMs, prefix: ipBacking.prefix }
              : undefined,
          global: limits.global,
          principal: limits.principal,
          tool: toolRateLimit.length ? { defaultLimit: toolLimits?.default, tools: toolLimits?.tools ?? {} } : undefined,
        })
      : undefined;
  const bodyParser = createBodyParser(options.body ?? {});
  const verifyCredential = createAuthenticate({
    verifiers,
    audit,
    metrics,
    ...(logger ? { logger } : {}),
    ...(auth.lockout ? { lockout: auth.lockout, ...(auth.keyIdOf ? { keyIdOf: auth.keyIdOf } : {}) } : {}),
  });
  const credentialIpCheck = createCredentialIpCheck({ audit, metrics });
  // Authentication, then the credential's own address restriction (if it has one).
  const authenticate: RequestHandler = function authenticate(req, res, next) {
    void verifyCredential(req, res, (error?: unknown) => (error ? next(error) : void credentialIpCheck(req, res, next)));
  };
  const authorize = createAuthorize({
    tools: options.tools,
    ...(options.prompts ? { prompts: options.prompts } : {}),
    ...(options.resources ? { resources: options.resources } : {}),
    ...(options.methods ? { methods: options.methods } : {}),
    ...(options.defaults ? { defaults: options.defaults } : {}),
    audit,
    metrics,
  });
  const routingHeaders = createRoutingHeaders({ read: routingHeadersOf });
  const paramHeaders = options.paramHeaders ?? {};
  const mcpRequestCheck = createMcpRequestCheck({
    classify: (req) => classifyOnce(req, { paramHeaders: typeof paramHeaders === 'function' ? paramHeaders() : paramHeaders }),
  });
  const handlerOptions = { ...(options.challenge ? { challenge: options.challenge } : {}), ...(logger ? { logger } : {}) };
  const rpcErrorHandler = createErrorHandler({ format: 'json-rpc', ...handlerOptions });
  const jsonErrorHandler = createErrorHandler({ format: 'json', ...handlerOptions });

  const pinning = options.pinning ? createLocalPinning(options.pinning, { audit, metrics, logger }) : undefined;

  // The whole chain in request order, composed into one handler: the router's per-layer work would
  // cost more than most layers do (see docs/benchmarks.md).
  const guard = composeMiddleware(
    [
      ...perimeter,
      ...(admission ? (ipCounted ? [] : ipRateLimit) : preAuthLimits),
      admission ? admission.authenticated(authenticate) : authenticate,
      ...(admission ? [] : principalRateLimit),
      // 2026-07-28: an early refusal from the routing headers, before the body is read.
      routingHeaders,
      authorize,
      // Batched: every limit of the request here, in one call of the store.
      ...(admission ? [admission.admit] : toolRateLimit),
      bodyParser,
      mcpRequestCheck,
      // The final word, on the verified body; tool calls not counted above are counted here.
      authorize,
      ...(admission ? [admission.afterBody] : []),
      ...toolRateLimit,
      // Blocked definitions: refused, and left out of the list answers of the server behind.
      ...(pinning ? [pinning.gate] : []),
    ],
    admission
      ? // A request refused before its limits were counted (they wait for its body) is counted first.
        function admittedErrors(error, req, res, next) {
          void admission.settle(req, error).then(
            (settled) => rpcErrorHandler(settled, req, res, next),
            () => rpcErrorHandler(error, req, res, next),
          );
        }
      : rpcErrorHandler,
  );
  const router = Router();
  router.use(guard);

  return Object.assign(router, {
    guard,
    perimeter,
    ipRateLimit,
    preAuthLimits,
    principalRateLimit,
    toolRateLimit,
    bodyParser,
    authenticate,
    routingHeaders,
    mcpRequestCheck,
    authorize,
    rpcErrorHandler,
    jsonErrorHandler,
    resolveRole,
    requirePermission,
    metrics,
    audit,
    pinning,
  });
}
