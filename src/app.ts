import express, { type Express } from 'express';
import { createJsonlAuditLogger, type JsonlAuditLogger } from './audit/jsonl-writer.js';
import { createAuditExporter, type AuditExporter } from './audit/exporter.js';
import { datadogSink, splunkSink, sumoSink, webhookSink, type AuditSink } from './audit/sinks/index.js';
import { createNullAuditLogger, type AuditLogger } from './audit/types.js';
import type { GuardConfig } from './config/config.js';
import { allowedHostsOf } from './config/to-options.js';
import { Permission } from './core/permissions.js';
import { createCredentials } from './credentials/setup.js';
import { principalOf } from './core/principal.js';
import { describeError } from './logging/redact.js';
import { createSilentLogger, type Logger } from './logging/logger.js';
import { createMcpEndpoint, type McpEndpoint } from './mcp/endpoint.js';
import { createTenantKv } from './mcp/kv-store.js';
import { createReferenceToolset } from './mcp/reference-toolset.js';
import { createConformanceToolset } from './mcp/conformance-toolset.js';
import type { ToolsetPolicy } from './mcp/toolset.js';
import { ConfigError } from './config/load.js';
import type { RbacPolicy } from './config/rbac.js';
import { createServerFactory } from './mcp/server.js';
import { createGuardMetrics, type GuardMetrics } from './metrics/guard-metrics.js';
import { requestActor } from './middleware/context.js';
import { createRequestLog } from './middleware/request-log.js';
import { createNotFound } from './middleware/error-handler.js';
import { createProbeMarker } from './middleware/probe.js';
import { createHealthRoute } from './routes/health.js';
import { createLiveMetricsRoute, createMetricsRoute } from './routes/metrics.js';
import { createReadyRoute, type ReadinessCheck } from './routes/ready.js';
import { createSessionTokenRoute } from './routes/session-token.js';
import { createSecurityStack, type SecurityStack } from './stack.js';
import { createMemoryStore } from './stores/memory.js';
import { createRedisStore } from './stores/redis.js';
import { createResilientStore } from './stores/resilient.js';
import { createLimiterStore } from './middleware/rate-limit/store-adapter.js';
import { createSessionTokenStore, holdSessionToken } from './stores/session-tokens.js';
import type { StateStore } from './stores/types.js';

/** Things the app uses that a caller may provide (tests, embedding). */
export interface AppDependencies {
  logger?: Logger;
  metrics?: GuardMetrics;
  audit?: AuditLogger;
  store?: StateStore;
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
  /** Marks the app ready (`/ready` answers 200 from now on). */
  markReady(): void;
  /**
   * First half of a graceful stop: `/ready` turns 503, live streams end,
   * in-flight MCP requests may finish until `deadline` (ms since the epoch),
   * then every MCP session and its SSE stream is closed.
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

/** Ships the audit trail to the SIEM collectors the configuration enables (none: undefined). */
function startAuditExport(config: GuardConfig, audit: AuditLogger, metrics: GuardMetrics, logger: Logger): AuditExporter | undefined {
  const { siem } = config.audit;
  const sinks: AuditSink[] = [
    ...(siem.splunk ? [splunkSink(siem.splunk)] : []),
    ...(siem.datadog ? [datadogSink({ apiKey: siem.datadog.apiKey, ...(siem.datadog.url ? { url: siem.datadog.url } : {}) })] : []),
    ...(siem.sumo ? [sumoSink(siem.sumo)] : []),
    ...(siem.webhook ? [webhookSink(siem.webhook)] : []),
  ];
  if (sinks.length === 0) return undefined;
  return createAuditExporter({
    dir: config.audit.dir,
    sinks,
    spoolMaxBytes: config.audit.spoolMaxBytes,
    onSent: (sink, records) => metrics.auditExports.inc({ sink, outcome: 'success' }, records),
    onFailed: (sink, error) => {
      metrics.auditExports.inc({ sink, outcome: 'failure' });
      logger.warn('audit export failed; retrying with backoff', { sink, error: describeError(error) });
    },
    onLag: (sink, bytes) => metrics.auditSpoolBytes.set({ sink }, bytes),
    onOverflow: (sink, records) => {
      metrics.auditOverflow.inc({ sink }, records);
      logger.error('audit export fell behind its spool bound; oldest records skipped', { sink, records });
      audit
        .record({
          type: 'audit.overflow',
          action: `export ${sink}`,
          outcome: { status: 'error', code: 'spool_full' },
          details: { sink, skipped: records },
        })
        .catch(() => undefined);
    },
  });
}

/**
 * Builds the reference server: the security stack in front of the MCP
 * endpoint, plus `/health`, `/ready`, `/metrics`, `/metrics/live` and, in
 * development mode, `GET /session`. It does not listen; `main.ts` does.
 */
export async function createApp(config: GuardConfig, deps: AppDependencies = {}): Promise<GuardApp> {
  // Configuration problems that need the toolset are found before anything is opened.
  const kv = createTenantKv();
  const toolset = config.mcp.toolset === 'conformance' ? createConformanceToolset() : createReferenceToolset(kv);
  const policy = effectivePolicy(toolset.policy, config.rbac);
  const unknownLimits = Object.keys(config.rateLimit.tool.tools).filter((name) => !Object.hasOwn(policy.tools, name));
  if (unknownLimits.length) {
    throw new ConfigError(unknownLimits.map((name) => `MCP_RATE_LIMIT_FILE: tools.${name}: the tool does not exist`));
  }
  const logger = deps.logger ?? createSilentLogger();
  const metrics = deps.metrics ?? createGuardMetrics();
  const store =
    deps.store ?? (config.redis.url ? await createRedisStore({ url: config.redis.url, prefix: config.redis.prefix }) : createMemoryStore());
  const audit =
    deps.audit ??
    (config.audit.enabled
      ? createJsonlAuditLogger({
          dir: config.audit.dir,
          fsync: config.audit.fsync,
          maxFileBytes: config.audit.maxFileBytes,
          rotateDaily: config.audit.rotateDaily,
          retentionDays: config.audit.retentionDays,
          ...(config.audit.hmacKey ? { hmacKey: config.audit.hmacKey } : {}),
          onWrite: (event) => metrics.auditEvents.inc({ type: event.type }),
          onError: (error) => {
            metrics.auditFailures.inc();
            logger.error('audit write failed', { error: describeError(error) });
          },
        })
      : createNullAuditLogger());
  const sessionTokens = config.auth.sessionTokens.enabled ? createSessionTokenStore(store) : undefined;
  const exporter = config.audit.enabled && !deps.audit ? startAuditExport(config, audit, metrics, logger) : undefined;
  if ('head' in audit) metrics.auditHeadTime.read = () => (audit as JsonlAuditLogger).head().time;
  // Rate-limit counters live apart from security state, so a flood of distinct clients can only
  // evict counters, never a session token or a revocation. On Redis they degrade to local counters
  // while Redis is unreachable; everything else fails closed.
  const localCounters = createMemoryStore({ maxEntries: config.rateLimit.maxKeys });
  const counters: StateStore =
    store.kind === 'memory'
      ? localCounters
      : createResilientStore({
          primary: store,
          fallback: localCounters,
          onDegradedChange(degraded) {
            metrics.storeDegraded.set(degraded ? 1 : 0);
            if (degraded) {
              metrics.storeFallbacks.inc();
              logger.warn('shared store unreachable: rate limits count locally until it is back', { store: store.kind });
            } else {
              logger.info('shared store reachable again: rate limits are shared again', { store: store.kind });
            }
          },
        });

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
    hooks: {
      async onToolCall(event) {
        const principal = principalOf(event.authInfo);
        metrics.toolCalls.inc({ tool: event.tool, outcome: event.outcome });
        metrics.toolDuration.observe({ tool: event.tool }, event.durationMs / 1000);
        await audit.record({
          type: 'tool.call',
          action: `tools/call ${event.tool}`,
          actor: principal ? { principalId: principal.id, role: principal.role, authMethod: principal.authMethod } : {},
          outcome: { status: event.outcome === 'success' ? 'success' : 'error', durationMs: Math.round(event.durationMs * 1000) / 1000 },
          context: {
            ...(event.requestId ? { requestId: event.requestId } : {}),
            ...(event.sessionId ? { sessionId: event.sessionId } : {}),
            ...(principal?.tenant ? { tenant: principal.tenant } : {}),
          },
          details: { tool: event.tool, argsDigest: event.argsDigest },
        });
      },
    },
  });
  const endpoint = createMcpEndpoint({
    mode: config.mcp.mode,
    createServer,
    sessionIdleMs: config.mcp.sessionIdleMs,
    maxSessions: config.mcp.maxSessions,
    jsonResponse: config.mcp.jsonResponse,
    logger,
    hooks: {
      async onSessionCreated(event) {
        metrics.activeSessions.inc();
        await audit.record({
          type: 'session.created',
          action: 'initialize',
          actor: { principalId: event.principalId },
          outcome: { status: 'success' },
          context: { sessionId: event.sessionId, ...(event.tenant ? { tenant: event.tenant } : {}) },
        });
      },
      onSessionClosed(event) {
        metrics.activeSessions.dec();
        audit
          .record({
            type: 'session.closed',
            action: 'session close',
            actor: { principalId: event.principalId },
            outcome: { status: 'success', code: event.reason ?? 'closed' },
            context: { sessionId: event.sessionId, ...(event.tenant ? { tenant: event.tenant } : {}) },
          })
          .catch(() => undefined);
      },
      async onHijackAttempt(event, req) {
        metrics.sessionHijackAttempts.inc();
        const { actor, context } = requestActor(req);
        await audit.record({
          type: 'session.hijack_attempt',
          action: `${req.method} ${config.mcp.path}`,
          actor,
          outcome: { status: 'denied', code: 'not_found' },
          context: { ...context, sessionId: event.sessionId },
          details: { owner: event.principalId },
        });
      },
    },
  });

  // A dead credential takes its MCP sessions with it, in every replica sharing the store.
  const unsubscribe = await store.subscribe(REVOKED_CHANNEL, (principalId) => {
    void endpoint.closeSessionsOf(principalId);
  });

  const credentials = await createCredentials(config.credentials, {
    store,
    // A lockout throttles; it never grants access: with Redis down it counts locally like the limits.
    lockoutStore:
      store.kind === 'memory' ? localCounters : createResilientStore({ primary: store, fallback: localCounters, degradeAll: true }),
    audit,
    metrics,
    logger,
    resolveRole: (role) => (Object.hasOwn(config.rbac.roles, role) ? config.rbac.roles[role] : undefined),
    publicUrl: config.server.publicUrl,
    mcpPath: config.mcp.path,
  }).catch(async (error: unknown) => {
    // Start-up failed (an unsafe key store, a bad key): release what was opened, then report.
    unsubscribe();
    await Promise.allSettled([exporter?.stop(), audit.close(), store.shutdown(), counters.shutdown()]);
    throw error;
  });
  const stack = createSecurityStack({
    auth: {
      ...(config.auth.token ? { token: config.auth.token, tokenRole: config.auth.tokenRole } : {}),
      apiKeys: config.auth.apiKeys,
      ...(sessionTokens ? { sessionTokens } : {}),
      verifiers: credentials.verifiers,
      ...(credentials.lockout ? { lockout: credentials.lockout, keyIdOf: credentials.keyIdOf } : {}),
    },
    challenge: credentials.challenge,
    roles: policy.roles,
    tools: policy.tools,
    prompts: policy.prompts,
    resources: policy.resources,
    corsOrigins: config.http.corsOrigins,
    allowedHosts: allowedHostsOf(config),
    rateLimit: {
      limit: config.rateLimit.perIp.limit,
      windowMs: config.rateLimit.perIp.windowMs,
      store: createLimiterStore(counters),
    },
    limits: {
      store: counters,
      principal: config.rateLimit.principal,
      tool: { default: config.rateLimit.tool.default, tools: config.rateLimit.tool.tools },
      global: config.rateLimit.global,
    },
    body: { limitBytes: config.http.bodyLimitBytes, maxBatch: config.http.maxBatch },
    headers: { hsts: config.http.hsts },
    audit,
    metrics,
    logger,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.server.trustProxy);
  app.use((_req, res, next) => {
    // While stopping, ask clients not to reuse the connection.
    if (phase === 'stopping') res.setHeader('Connection', 'close');
    next();
  });
  // Docker and Kubernetes probes name the container's address in Host; marked here, they pass the
  // Host allowlist on /health and /ready only, and only when nothing in them looks like a browser.
  app.get(['/health', '/ready'], createProbeMarker());
  app.use(...stack.perimeter, createRequestLog({ logger }));

  app.get('/health', createHealthRoute());
  app.get(
    '/ready',
    createReadyRoute({
      phase: () => phase,
      checks: () => {
        const checks: Record<string, ReadinessCheck> = {
          audit: audit.healthy() ? { status: 'ok' } : { status: 'down', detail: 'audit log not writable' },
          store: store.healthy()
            ? { status: 'ok', detail: store.kind }
            : { status: 'degraded', detail: `${store.kind} unreachable: rate limits local, credential checks refused` },
        };
        return checks;
      },
    }),
  );

  credentials.mount(app, stack.preAuthLimits);

  const streamGauge = (kind: string) => (delta: 1 | -1) => metrics.openStreams.inc({ kind }, delta);
  if (sessionTokens) {
    app.get(
      '/session',
      ...stack.preAuthLimits,
      createSessionTokenRoute({
        store: sessionTokens,
        role: config.auth.sessionTokens.role,
        ttlMs: config.auth.sessionTokens.ttlMs,
        leaseMs: config.auth.sessionTokens.leaseMs,
        track,
        onStreamChange: streamGauge('session_token'),
        onTokenEnded: (principalId) => {
          store
            .publish(REVOKED_CHANNEL, principalId)
            .catch((error: unknown) => logger.warn('revocation broadcast failed', { error: describeError(error) }));
        },
        onError: (error) => logger.warn('session token revocation failed', { error: describeError(error) }),
      }),
    );
  }

  const metricsGate = config.auth.metricsPublic ? [] : [stack.authenticate, stack.requirePermission(Permission.MetricsRead)];
  app.get('/metrics', ...stack.preAuthLimits, ...metricsGate, createMetricsRoute(metrics.registry));
  app.get(
    '/metrics/live',
    ...stack.preAuthLimits,
    stack.authenticate,
    stack.requirePermission(Permission.MetricsRead),
    createLiveMetricsRoute({ registry: metrics.registry, track, onStreamChange: streamGauge('live_metrics') }),
  );

  const mcpPath = config.mcp.path;
  app.all(
    mcpPath,
    (req, _res, next) => {
      if (req.guard) req.guard.route = 'mcp';
      next();
    },
    ...stack.preAuthLimits,
    stack.bodyParser,
    stack.authenticate,
    ...stack.principalRateLimit,
    stack.authorize,
    ...stack.toolRateLimit,
    endpoint.handler,
  );
  app.use(mcpPath, stack.rpcErrorHandler);
  app.use(createNotFound());
  app.use(stack.jsonErrorHandler);

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
    await exporter?.stop();
    await audit.close();
    await Promise.allSettled([counters.shutdown(), store.shutdown()]);
  };

  return {
    app,
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
