import express, { type Express } from 'express';
import type { AppDependencies } from '../app.js';
import { openAudit } from '../app/audit.js';
import { sessionHooks, toolCallHooks } from '../app/mcp-hooks.js';
import { openStores } from '../app/stores.js';
import type { AuditLogger } from '../audit/types.js';
import type { GuardConfig } from '../config/config.js';
import { allowedHostsOf } from '../config/to-options.js';
import { createCredentials } from '../app/credentials.js';
import { mountOpsRoutes } from '../app/ops-routes.js';
import { createSilentLogger } from '../logging/logger.js';
import { describeError } from '../logging/redact.js';
import { createMcpEndpoint, type McpEndpoint } from '../mcp/endpoint.js';
import { createGuardMetrics, type GuardMetrics } from '../metrics/guard-metrics.js';
import { createLimiterStore } from '../middleware/rate-limit/store-adapter.js';
import { createLiveMetricsRoute } from '../routes/metrics.js';
import { createSecurityStack, type SecurityStack } from '../stack.js';
import { createStoreProbe } from '../stores/probe.js';
import { createSessionTokenStore, holdSessionToken } from '../stores/session-tokens.js';
import type { StateStore } from '../stores/types.js';
import type { GatewayFile, TextReader } from './file.js';
import { createGatewayMetrics } from './metrics.js';
import { auditForUpstream, createUpstreamMount, type UpstreamMount } from './mount.js';
import { prefixedStore } from './prefixed-store.js';
import { createGatewayPinning, type GatewayPinning } from '../pinning/setup.js';

/** What {@link createGatewayApp} uses that a caller may provide. */
export interface GatewayDependencies extends AppDependencies {
  /** The environment secret references of the gateway file are read from. Default: none. */
  env?: Readonly<Record<string, string | undefined>>;
  readFile?: TextReader;
  /** How often each replica checks the tool lock for a change (docs/pinning.md). Default 2000 ms. */
  lockPollMs?: number;
}

/** One mounted upstream: its route's stack and endpoint. */
export interface GatewayRoute {
  mount: UpstreamMount;
  /** `<MCP_PATH>/<name>` */
  path: string;
  stack: SecurityStack;
  endpoint: McpEndpoint;
}

/** The gateway application: the Express app and the handles to run and stop it. */
export interface GatewayApp {
  app: Express;
  routes: GatewayRoute[];
  metrics: GuardMetrics;
  audit: AuditLogger;
  store: StateStore;
  /** Tool-definition pinning of the upstreams (docs/pinning.md). */
  pinning: GatewayPinning;
  /** Development mode's held session token (see `GuardApp.devToken`). A secret: never log it. */
  devToken: string | undefined;
  markReady(): void;
  drain(deadline: number): Promise<void>;
  reloadCredentials(): void;
  close(): Promise<void>;
  shutdown(timeoutMs?: number): Promise<void>;
}

const REVOKED_CHANNEL = 'principal-revoked';

/**
 * Builds the gateway: for each upstream of the gateway file, the whole
 * security stack (authentication, the upstream's policy in its own names,
 * tenants, the four rate-limit levels, audit events naming the upstream,
 * metrics labelled by it) mounted at `<MCP_PATH>/<name>` in front of an MCP
 * endpoint that forwards to the upstream; plus `/health`, `/ready` (each
 * upstream reported), `/metrics`, `/metrics/live`, the credential routes and,
 * in development mode, `GET /session`. It does not listen.
 */
export async function createGatewayApp(config: GuardConfig, file: GatewayFile, deps: GatewayDependencies = {}): Promise<GatewayApp> {
  const logger = deps.logger ?? createSilentLogger();
  const env = deps.env ?? {};
  const declaredTools = file.upstreams.flatMap((spec) => Object.keys(spec.policy.tools));
  const metrics = deps.metrics ?? createGuardMetrics({ tools: [...new Set(declaredTools)] });
  const gatewayMetrics = createGatewayMetrics(
    metrics.registry,
    file.upstreams.map((spec) => spec.name),
  );
  const trail = openAudit(config, metrics, logger, deps.audit);
  const { audit } = trail;
  let mounts: UpstreamMount[];
  let pinning: GatewayPinning | undefined;
  try {
    pinning = createGatewayPinning({
      file,
      devMode: config.devMode,
      audit,
      registry: metrics.registry,
      logger,
      ...(deps.lockPollMs !== undefined ? { pollMs: deps.lockPollMs } : {}),
    });
    // Upstream secrets are resolved here: a missing one is a start-up error naming its reference.
    mounts = file.upstreams.map((spec) =>
      createUpstreamMount({
        spec,
        env,
        ...(deps.readFile ? { readFile: deps.readFile } : {}),
        metrics: gatewayMetrics,
        hooks: toolCallHooks(auditForUpstream(audit, spec.name), metrics),
        pin: pinning!.guardOf(spec.name),
        logger,
        ...(config.mcp.requestStateKey ? { requestStateKey: config.mcp.requestStateKey } : {}),
        requestStateTtlSeconds: Math.round(config.mcp.requestStateTtlMs / 1000),
      }),
    );
  } catch (error) {
    pinning?.close();
    await trail.close();
    throw error;
  }
  const pins = pinning;
  const stores = await openStores(config, metrics, logger, deps.store).catch(async (error: unknown) => {
    await trail.close();
    throw error;
  });
  const { store } = stores;
  const sessionTokens = config.auth.sessionTokens.enabled ? createSessionTokenStore(store) : undefined;
  const storeAnswers = createStoreProbe(store);
  let phase: 'starting' | 'ready' | 'stopping' = 'starting';
  const streams = new Set<() => void>();
  const track = (close: () => void) => {
    streams.add(close);
    return () => streams.delete(close);
  };
  const routes: GatewayRoute[] = [];
  const streamGauge = (kind: string) => (delta: 1 | -1) => metrics.openStreams.inc({ kind }, delta);
  const liveMetrics = createLiveMetricsRoute({ registry: metrics.registry, track, onStreamChange: streamGauge('live_metrics') });
  const endPrincipal = (principalId: string): void => {
    for (const route of routes) void route.endpoint.closeSessionsOf(principalId);
    liveMetrics.closeStreamsOf(principalId);
  };
  const unsubscribe = await store.subscribe(REVOKED_CHANNEL, endPrincipal);
  const release = async () => {
    unsubscribe();
    pins.close();
    await Promise.allSettled([...mounts.map((mount) => mount.close()), trail.close(), stores.shutdown()]);
  };
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
  }).catch(async (error: unknown) => {
    await release();
    throw error;
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.server.trustProxy);
  app.use((_req, res, next) => {
    if (phase === 'stopping') res.setHeader('Connection', 'close');
    next();
  });

  for (const mount of mounts) {
    const spec = mount.spec;
    const upstreamAudit = auditForUpstream(audit, spec.name);
    const limits = spec.limits;
    const stack = createSecurityStack({
      auth: {
        verifiers: credentials.verifiers,
        ...(credentials.lockout ? { lockout: credentials.lockout, keyIdOf: credentials.keyIdOf } : {}),
      },
      challenge: credentials.challenge,
      roles: config.rbac.roles,
      ...mount.policy.stackPolicy,
      paramHeaders: () => mount.paramHeaders(),
      corsOrigins: config.http.corsOrigins,
      allowedHosts: allowedHostsOf(config),
      // One per-IP budget for the whole gateway: every mount counts under the same keys.
      rateLimit: {
        limit: config.rateLimit.perIp.limit,
        windowMs: config.rateLimit.perIp.windowMs,
        store: createLimiterStore(stores.counters),
      },
      limits: {
        // Per principal, per tool and in all, per upstream: its own keys.
        store: prefixedStore(stores.counters, `gw:${spec.name}:`),
        principal: limits?.principal ?? config.rateLimit.principal,
        tool: { default: limits?.tool ?? config.rateLimit.tool.default, tools: limits?.tools ?? {} },
        global: limits?.global ?? config.rateLimit.global,
      },
      body: { limitBytes: config.http.bodyLimitBytes, maxBatch: config.http.maxBatch },
      headers: { hsts: config.http.hsts },
      audit: upstreamAudit,
      metrics,
      logger,
      // The posture (the gateway command) reports what these checks would.
      validate: false,
    });
    const endpoint = createMcpEndpoint({
      mode: config.mcp.mode,
      createServer: mount.createServer,
      sessionIdleMs: config.mcp.sessionIdleMs,
      maxSessions: config.mcp.maxSessions,
      maxSessionsPerPrincipal: config.mcp.maxSessionsPerPrincipal,
      maxListenStreams: config.mcp.maxListenStreams,
      maxListenStreamsPerPrincipal: config.mcp.maxListenStreamsPerPrincipal,
      jsonResponse: config.mcp.jsonResponse,
      bus: mount.bus,
      logger,
      hooks: sessionHooks(upstreamAudit, metrics, `${config.mcp.path}/${spec.name}`),
    });
    const path = `${config.mcp.path}/${spec.name}`;
    app.all(
      path,
      (req, _res, next) => {
        req.guard = { ...req.guard!, route: `mcp/${spec.name}` };
        next();
      },
      stack,
      endpoint.handler,
    );
    app.use(path, stack.rpcErrorHandler);
    routes.push({ mount, path, stack, endpoint });
  }
  const first = routes[0]!.stack;

  mountOpsRoutes(app, {
    config,
    stack: first,
    phase: () => phase,
    audit,
    store,
    storeAnswers,
    // An upstream that is down leaves the gateway serving the others: degraded, not down.
    moreChecks: () =>
      Object.fromEntries(
        routes.map(({ mount }) => {
          const status = mount.pool.status();
          return [`upstream:${mount.name}`, { status: status.status, detail: `${status.detail}; ${status.connections} open` }];
        }),
      ),
    credentialRoutes: credentials.routes(first.preAuthLimits),
    sessionTokens,
    metrics,
    liveMetrics,
    track,
    revoke: (principalId) => store.publish(REVOKED_CHANNEL, principalId),
    logger,
  });

  // Each upstream is reached once now: what it offers is known before the first client, and a
  // broken command or URL is reported at start-up (the gateway still starts and retries on use).
  await Promise.all(mounts.map((mount) => mount.start()));
  await audit.record({
    type: 'config.loaded',
    action: 'start',
    outcome: { status: 'success' },
    details: {
      mode: config.devMode ? 'development' : 'production',
      gateway: file.upstreams.map((spec) => spec.name).join(','),
      sessionMode: config.mcp.mode,
      store: store.kind,
    },
  });

  const drain = async (deadline: number): Promise<void> => {
    phase = 'stopping';
    for (const close of [...streams]) close();
    const active = () => routes.reduce((sum, route) => sum + route.endpoint.activeRequests(), 0);
    while (active() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all(routes.map((route) => route.endpoint.close()));
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
    await credentials.close();
    await release();
  };
  return {
    app,
    routes,
    metrics,
    audit,
    store,
    pinning: pins,
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
