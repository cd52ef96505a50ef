import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import type { AuditLogger } from './audit/types.js';
import { openAudit } from './app/audit.js';
import { sessionHooks, toolCallHooks } from './app/mcp-hooks.js';
import { openStores } from './app/stores.js';
import type { GuardConfig } from './config/config.js';
import { ConfigError } from './config/load.js';
import type { RbacPolicy } from './config/rbac.js';
import { allowedHostsOf } from './config/to-options.js';
import { createCredentials } from './app/credentials.js';
import { mountOpsRoutes } from './app/ops-routes.js';
import { describeError } from './logging/redact.js';
import { createSilentLogger, type Logger } from './logging/logger.js';
import { createConformanceToolset } from './mcp/conformance-toolset.js';
import { createMcpEndpoint, type McpEndpoint } from './mcp/endpoint.js';
import { paramHeadersOf, type ParamHeader } from './mcp/era.js';
import { createTenantKv } from './mcp/kv-store.js';
import { createReferenceToolset } from './mcp/reference-toolset.js';
import { createServerFactory } from './mcp/server.js';
import { inputJsonSchemaOf, type Toolset, type ToolsetPolicy } from './mcp/toolset.js';
import { createGuardMetrics, type GuardMetrics } from './metrics/guard-metrics.js';
import { createLimiterStore } from './middleware/rate-limit/store-adapter.js';
import { composeMiddleware } from './middleware/compose.js';
import { createNotFound } from './middleware/error-handler.js';
import { createLiveMetricsRoute } from './routes/metrics.js';
import { createSecurityStack, type SecurityStack } from './stack.js';
import { createStoreProbe } from './stores/probe.js';
import { createSessionTokenStore, holdSessionToken } from './stores/session-tokens.js';
import type { StateStore } from './stores/types.js';

/** Things the app uses that a caller may provide (tests, embedding). */
export interface AppDependencies {
  logger?: Logger;
  metrics?: GuardMetrics;
  audit?: AuditLogger;
  store?: StateStore;
  /** Extra CA certificates (PEM) the authorization server trusts for outgoing HTTPS (tests, private CAs). */
  authServerCa?: string;
}

/** The standalone mcp-guard application: Express app plus the handles to run and stop it. */
export interface GuardApp {
  app: Express;
  stack: SecurityStack;
  endpoint: McpEndpoint;
  metrics: GuardMetrics;
  audit: AuditLogger;
  store: StateStore;
  /**
   * Development mode: a session token held by this app while it runs (released
   * on close, expired within `MCP_SESSION_TOKEN_LEASE` if the process dies),
   * accepted from loopback only. For desktop clients that cannot hold a
   * `GET /session` stream open. A secret: never log it.
   */
  devToken: string | undefined;
  /**
   * The request listener to serve: `/mcp` goes straight to its composed chain (Express's request
   * and response, without its router), everything else to `app`.
   */
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** Marks the app ready (`/ready` answers 200 from now on). */
  markReady(): void;
  /**
   * First half of a graceful stop: `/ready` turns 503, live streams end,
   * in-flight MCP requests may finish until `deadline` (ms since the epoch),
   * then every MCP session and stream is closed.
   */
  drain(deadline: number): Promise<void>;
  /** Re-reads the API key store (SIGHUP). */
  reloadCredentials(): void;
  /** Second half: flushes and closes the audit log, releases the stores. */
  close(): Promise<void>;
  /** `drain` then `close` (for embedding and tests). */
  shutdown(timeoutMs?: number): Promise<void>;
}

const REVOKED_CHANNEL = 'principal-revoked';

/**
 * The toolset's own permissions with the RBAC file's overrides applied. An
 * override naming a tool, prompt or resource the toolset lacks is a
 * configuration error (a typo would otherwise leave the real one unguarded).
 */
export function effectivePolicy(policy: ToolsetPolicy, rbac: RbacPolicy): ToolsetPolicy & { roles: RbacPolicy['roles'] } {
  const problems: string[] = [];
  for (const group of ['tools', 'prompts', 'resources'] as const) {
    for (const name of Object.keys(rbac[group])) {
      if (!Object.hasOwn(policy[group], name)) problems.push(`MCP_RBAC_FILE: ${group}.${name}: the ${group.slice(0, -1)} does not exist`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    roles: rbac.roles,
    tools: { ...policy.tools, ...rbac.tools },
    prompts: { ...policy.prompts, ...rbac.prompts },
    resources: { ...policy.resources, ...rbac.resources },
  };
}

/** Per tool, the arguments its input schema mirrors into `Mcp-Param-*` headers. */
function paramHeadersOfToolset(toolset: Toolset): Record<string, ParamHeader[]> {
  const declared: Record<string, ParamHeader[]> = {};
  for (const tool of toolset.tools) {
    const headers = paramHeadersOf(inputJsonSchemaOf(tool));
    if (headers.length) declared[tool.name] = headers;
  }
  return declared;
}

/** The toolset the configuration names, its policy with the RBAC file applied, checked against the limit file. */
function loadToolset(config: GuardConfig) {
  const toolset = config.mcp.toolset === 'conformance' ? createConformanceToolset() : createReferenceToolset(createTenantKv());
  const policy = effectivePolicy(toolset.policy, config.rbac);
  const unknownLimits = Object.keys(config.rateLimit.tool.tools).filter((name) => !Object.hasOwn(policy.tools, name));
  if (unknownLimits.length) {
    throw new ConfigError(unknownLimits.map((name) => `MCP_RATE_LIMIT_FILE: tools.${name}: the tool does not exist`));
  }
  return { toolset, policy };
}

/**
 * Builds the reference server: the security stack in front of the MCP
 * endpoint, plus `/health`, `/ready`, `/metrics`, `/metrics/live`, the
 * credential routes and, in development mode, `GET /session`. It does not
 * listen; `main.ts` does.
 */
export async function createApp(config: GuardConfig, deps: AppDependencies = {}): Promise<GuardApp> {
  // Configuration problems that need the toolset are found before anything is opened.
  const { toolset, policy } = loadToolset(config);
  const logger = deps.logger ?? createSilentLogger();
  const metrics = deps.metrics ?? createGuardMetrics({ tools: Object.keys(policy.tools) });
  // The trail first: a second replica on the same audit directory is refused before anything else opens.
  const trail = openAudit(config, metrics, logger, deps.audit);
  const { audit } = trail;
  const stores = await openStores(config, metrics, logger, deps.store).catch(async (error: unknown) => {
    await trail.close(); // releases the trail's lock
    throw error;
  });
  const { store } = stores;
  const sessionTokens = config.auth.sessionTokens.enabled ? createSessionTokenStore(store) : undefined;

  // A hung Redis keeps its connection open: readiness pings it with a deadline instead of trusting the socket.
  const storeAnswers = createStoreProbe(store);
  let phase: 'starting' | 'ready' | 'stopping' = 'starting';
  const streams = new Set<() => void>();
  const track = (close: () => void) => {
    streams.add(close);
    return () => streams.delete(close);
  };

  const createServer = createServerFactory({
    toolset,
    policy,
    logger,
    // The endpoint is created just below; tools only run once it exists.
    listSessions: () => endpoint.listSessions(),
    hooks: toolCallHooks(audit, metrics),
    ...(config.mcp.requestStateKey ? { requestStateKey: config.mcp.requestStateKey } : {}),
    requestStateTtlSeconds: Math.round(config.mcp.requestStateTtlMs / 1000),
  });
  const endpoint = createMcpEndpoint({
    mode: config.mcp.mode,
    createServer,
    sessionIdleMs: config.mcp.sessionIdleMs,
    maxSessions: config.mcp.maxSessions,
    maxSessionsPerPrincipal: config.mcp.maxSessionsPerPrincipal,
    maxListenStreams: config.mcp.maxListenStreams,
    maxListenStreamsPerPrincipal: config.mcp.maxListenStreamsPerPrincipal,
    jsonResponse: config.mcp.jsonResponse,
    ...(toolset.bus ? { bus: toolset.bus } : {}),
    logger,
    hooks: sessionHooks(audit, metrics, config.mcp.path),
  });

  const streamGauge = (kind: string) => (delta: 1 | -1) => metrics.openStreams.inc({ kind }, delta);
  const liveMetrics = createLiveMetricsRoute({ registry: metrics.registry, track, onStreamChange: streamGauge('live_metrics') });
  // A dead credential takes its MCP sessions and live streams with it: in every replica sharing the
  // store (broadcast), and in this process even without Redis (the key store's own reload).
  const endPrincipal = (principalId: string): void => {
    void endpoint.closeSessionsOf(principalId);
    liveMetrics.closeStreamsOf(principalId);
  };
  const unsubscribe = await store.subscribe(REVOKED_CHANNEL, endPrincipal);

  const credentials = await createCredentials(config.credentials, {
    sources: {
      ...(config.auth.token ? { token: config.auth.token, tokenRole: config.auth.tokenRole } : {}),
      apiKeys: config.auth.apiKeys,
      ...(sessionTokens ? { sessionTokens } : {}),
    },
    store,
    audit,
    metrics,
    logger,
    resolveRole: (role) => (Object.hasOwn(config.rbac.roles, role) ? config.rbac.roles[role] : undefined),
    publicUrl: config.server.publicUrl,
    mcpPath: config.mcp.path,
    onPrincipalRevoked: endPrincipal,
    authServer: { config: config.authServer, roles: config.rbac.roles, ...(deps.authServerCa ? { ca: deps.authServerCa } : {}) },
  }).catch(async (error: unknown) => {
    // Start-up failed (an unsafe key store, a bad key): release what was opened, then report.
    unsubscribe();
    await Promise.allSettled([trail.close(), stores.shutdown()]);
    throw error;
  });
  const stack = createSecurityStack({
    auth: {
      verifiers: credentials.verifiers,
      ...(credentials.lockout ? { lockout: credentials.lockout, keyIdOf: credentials.keyIdOf } : {}),
    },
    challenge: credentials.challenge,
    roles: policy.roles,
    tools: policy.tools,
    prompts: policy.prompts,
    resources: policy.resources,
    paramHeaders: paramHeadersOfToolset(toolset),
    corsOrigins: config.http.corsOrigins,
    allowedHosts: allowedHostsOf(config),
    rateLimit: {
      limit: config.rateLimit.perIp.limit,
      windowMs: config.rateLimit.perIp.windowMs,
      store: createLimiterStore(stores.counters),
    },
    limits: {
      store: stores.counters,
      principal: config.rateLimit.principal,
      tool: { default: config.rateLimit.tool.default, tools: config.rateLimit.tool.tools },
      global: config.rateLimit.global,
    },
    body: { limitBytes: config.http.bodyLimitBytes, maxBatch: config.http.maxBatch },
    headers: { hsts: config.http.hsts },
    audit,
    metrics,
    logger,
    // The start-up posture (main.ts) already reported what these checks would.
    validate: false,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.server.trustProxy);
  app.use((_req, res, next) => {
    // While stopping, ask clients not to reuse the connection.
    if (phase === 'stopping') res.setHeader('Connection', 'close');
    next();
  });

  // The MCP endpoint behind the whole stack, in the stack's own order (src/stack.ts).
  const mcpPath = config.mcp.path;
  const markRoute: RequestHandler = (req, res, next) => {
    // While stopping, ask clients not to reuse the connection.
    if (phase === 'stopping') res.setHeader('Connection', 'close');
    req.guard = { ...req.guard!, route: 'mcp' };
    next();
  };
  const mcpChain = composeMiddleware([markRoute, stack.guard, endpoint.handler], stack.rpcErrorHandler);
  app.all(mcpPath, mcpChain);

  // Every other route: probes, the perimeter, then what needs a credential.
  mountOpsRoutes(app, {
    config,
    stack,
    phase: () => phase,
    audit,
    store,
    storeAnswers,
    credentialRoutes: credentials.routes(stack.preAuthLimits),
    sessionTokens,
    metrics,
    liveMetrics,
    track,
    revoke: (principalId) => store.publish(REVOKED_CHANNEL, principalId),
    logger,
  });

  await audit.record({
    type: 'config.loaded',
    action: 'start',
    outcome: { status: 'success' },
    details: {
      mode: config.devMode ? 'development' : 'production',
      sessionMode: config.mcp.mode,
      store: store.kind,
    },
  });

  const drain = async (deadline: number): Promise<void> => {
    phase = 'stopping';
    for (const close of [...streams]) close();
    while (endpoint.activeRequests() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await endpoint.close();
  };
  const devToken =
    sessionTokens && config.devMode
      ? await holdSessionToken(sessionTokens, config.auth.sessionTokens.role, {
          leaseMs: config.auth.sessionTokens.leaseMs,
          loopbackOnly: true,
          onError: (error) => logger.warn('development token renewal failed', { error: describeError(error) }),
        })
      : undefined;

  const close = async (): Promise<void> => {
    await devToken?.release().catch(() => undefined);
    unsubscribe();
    await credentials.close();
    await trail.close();
    await stores.shutdown();
  };

  // The MCP endpoint is most of the traffic: it skips the app's router, which would only find the route
  // registered above after matching it against every layer in front of it.
  const notFound = createNotFound();
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    if ((query < 0 ? url : url.slice(0, query)) !== mcpPath) return void app(req, res);
    const request = req as Request;
    const response = res as Response;
    request.res = response;
    response.req = request;
    Object.setPrototypeOf(req, app.request);
    Object.setPrototypeOf(res, app.response);
    response.locals = Object.create(null) as Record<string, unknown>;
    mcpChain(request, response, (error?: unknown) => {
      if (error) return void stack.rpcErrorHandler(error, request, response, () => undefined);
      return void notFound(request, response, (refusal?: unknown) => stack.rpcErrorHandler(refusal, request, response, () => undefined));
    });
  };

  return {
    app,
    handle,
    stack,
    endpoint,
    metrics,
    audit,
    store,
    devToken: devToken?.token,
    markReady() {
      phase = 'ready';
    },
    drain,
    reloadCredentials: () => credentials.reload(),
    close,
    async shutdown(timeoutMs = 5000) {
      await drain(Date.now() + timeoutMs);
      await close();
    },
  };
}
