import { InMemoryServerEventBus, type McpServer, type ServerCapabilities } from '@modelcontextprotocol/server';
import type { AuditLogger } from '../audit/types.js';
import type { Principal } from '../core/principal.js';
import type { Logger } from '../logging/logger.js';
import { describeError } from '../logging/redact.js';
import { paramHeadersOf, type ParamHeader } from '../mcp/era.js';
import type { McpEra } from '../mcp/era.js';
import type { McpHooks } from '../mcp/toolset.js';
import { createHeldCalls, type HeldCalls } from './bridge.js';
import { connectUpstream, type ListKind, type UpstreamConnection } from './connection.js';
import { createScrubber } from './errors.js';
import { type TextReader, type UpstreamSpec } from './file.js';
import type { GatewayMetrics } from './metrics.js';
import { compilePolicy, type CompiledPolicy } from './policy.js';
import { createUpstreamPool, type UpstreamPool } from './pool.js';
import { createGatewayServerFactory } from './server.js';
import type { PinGuard } from '../pinning/guard.js';
import type { ServerFactory } from '../mcp/server.js';
import { childEnvironment, createHttpTransport, createStdioTransport, forShareKey, resolveHttpSecrets } from './transports.js';

/** Options of {@link createUpstreamMount}. */
export interface UpstreamMountOptions {
  spec: UpstreamSpec;
  /** The gateway's environment: secret references and inherited variables are read from it. */
  env: Readonly<Record<string, string | undefined>>;
  readFile?: TextReader;
  metrics: GatewayMetrics;
  /** Tool-call audit and metrics (events already name the upstream). */
  hooks: McpHooks;
  /** Tool-definition pinning of this upstream; undefined when off. */
  pin?: PinGuard | undefined;
  logger: Logger;
  requestStateKey?: string;
  requestStateTtlSeconds?: number;
}

/** Everything the gateway keeps for one upstream, but its HTTP route. */
export interface UpstreamMount {
  name: string;
  spec: UpstreamSpec;
  policy: CompiledPolicy;
  pool: UpstreamPool;
  held: HeldCalls;
  /** Change events for this mount's `subscriptions/listen` streams. */
  bus: InMemoryServerEventBus;
  createServer: ServerFactory;
  /** The upstream tools' `Mcp-Param-*` declarations, as last listed. */
  paramHeaders(): Readonly<Record<string, readonly ParamHeader[]>>;
  /** Opens a first connection (a probe child for a per-principal or per-tenant stdio upstream) to learn the upstream. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Wraps an audit logger so that every event names the upstream (`details.upstream`). */
export function auditForUpstream(audit: AuditLogger, upstream: string): AuditLogger {
  return {
    record: (event) => audit.record({ ...event, details: { ...event.details, upstream } }),
    healthy: () => audit.healthy(),
    // The trail belongs to the gateway; closing one upstream's view closes nothing.
    close: async () => undefined,
  };
}

/**
 * One upstream of the gateway: its connection pool (stdio children or
 * upstream sessions, shared as the file says), the MCP server factory that
 * forwards to it, the held calls of its input rounds, and the notifications
 * its list changes become for clients.
 */
export function createUpstreamMount(options: UpstreamMountOptions): UpstreamMount {
  const { spec, env, readFile, metrics, hooks, pin, logger } = options;
  const name = spec.name;
  const label = { upstream: name };
  const policy = compilePolicy(spec.policy);
  const bus = new InMemoryServerEventBus((error) =>
    logger.debug('listen stream listener failed', { upstream: name, error: describeError(error) }),
  );
  const legacyServers = new Map<McpServer & { subscriptions: Set<string> }, string>();
  let capabilities: ServerCapabilities | undefined;
  let identity: { name: string; version: string; instructions?: string } = { name: `mcp-guard gateway: ${name}`, version: '0.1.0' };
  let paramHeaders: Record<string, ParamHeader[]> = {};
  // The pinning check of the lists last learned: start-up waits for it (trust on first use included).
  let pinChecked: Promise<void> = Promise.resolve();

  // Secrets are resolved once, at start-up: a missing one stops the gateway with its reference named.
  const secrets = spec.kind === 'http' ? resolveHttpSecrets(spec, env, readFile) : undefined;
  const child = spec.kind === 'stdio' ? childEnvironment(spec, env, readFile) : undefined;
  const scrub = createScrubber([...(secrets?.values ?? []), ...(child?.secrets ?? [])]);

  const learn = (conn: UpstreamConnection): void => {
    capabilities = conn.capabilities;
    identity = {
      name: conn.serverInfo?.name ?? identity.name,
      version: conn.serverInfo?.version ?? identity.version,
      ...(conn.instructions ? { instructions: conn.instructions } : {}),
    };
    const declared: Record<string, ParamHeader[]> = {};
    for (const tool of conn.lists().tools) {
      const headers = paramHeadersOf(tool.inputSchema);
      if (headers.length) declared[tool.name] = headers;
    }
    paramHeaders = declared;
    // Every read of the lists, the first and each after a list_changed, is judged against the lock at once.
    if (pin) pinChecked = pin.observe(conn.lists());
  };

  const notifyLists = (kind: ListKind, conn: UpstreamConnection): void => {
    learn(conn);
    bus.publish({ kind: `${kind}_list_changed` });
    for (const server of legacyServers.keys()) {
      const low = server.server;
      const send =
        kind === 'tools' ? low.sendToolListChanged() : kind === 'prompts' ? low.sendPromptListChanged() : low.sendResourceListChanged();
      void send.catch(() => undefined);
    }
  };
  const notifyUpdate = (uri: string, key: string): void => {
    bus.publish({ kind: 'resource_updated', uri });
    for (const [server, serverKey] of legacyServers) {
      if (serverKey === key && server.subscriptions.has(uri)) void server.server.sendResourceUpdated({ uri }).catch(() => undefined);
    }
  };

  // Which eras the upstream speaks, as learned: a client is served through a connection of its own
  // era when the upstream speaks it (nothing to bridge), through the other era's otherwise.
  const speaks: { legacy?: boolean; modern?: boolean } = {
    ...(spec.protocol === '2025' ? { legacy: true, modern: false } : {}),
    ...(spec.protocol === '2026-07-28' ? { legacy: false, modern: true } : {}),
  };
  const eraFor = (era: McpEra): McpEra => {
    if (era === 'legacy') return speaks.legacy === false ? 'modern' : 'legacy';
    return speaks.modern === false ? 'legacy' : 'modern';
  };

  const connectOnce = async (key: string, protocol: UpstreamSpec['protocol']) => {
    if (spec.kind === 'http') {
      const connection = await connectUpstream({
        name,
        transport: createHttpTransport(spec, secrets!),
        protocol,
        timeoutMs: Math.min(spec.callTimeout, 30_000),
        attributeToSoleCall: false,
        logger,
      });
      return { connection };
    }
    const own = forShareKey(spec, child!.env, key.replace(/#(legacy|modern)$/, ''));
    const transport = createStdioTransport(own.spec, own.env, logger);
    let connection: UpstreamConnection;
    try {
      connection = await connectUpstream({
        name,
        transport,
        protocol,
        timeoutMs: spec.startTimeout,
        attributeToSoleCall: spec.share === 'principal',
        logger,
      });
    } catch (error) {
      const stderr = transport.stderrTail();
      if (stderr) logger.warn('upstream child failed to start', { upstream: name, key, stderr: stderr.slice(-1024) });
      await transport.close().catch(() => undefined);
      throw error;
    }
    return { connection, ...(transport.pid !== null ? { pid: transport.pid } : {}) };
  };

  /** Opens the connection of a pool key (`<share key>#<era>`), in that era when the upstream speaks it. */
  const connect = async (key: string) => {
    if (spec.protocol !== 'auto') return connectOnce(key, spec.protocol);
    if (!key.endsWith('#legacy')) {
      const pooled = await connectOnce(key, 'auto');
      speaks[pooled.connection.era] = true;
      if (pooled.connection.era === 'legacy') speaks.modern = false;
      return pooled;
    }
    try {
      const pooled = await connectOnce(key, '2025');
      speaks.legacy = true;
      return pooled;
    } catch (error) {
      // An upstream that refuses the 2025 handshake but speaks 2026-07-28 serves 2025 clients through the bridge.
      const pooled = await connectOnce(key, 'auto').catch(() => {
        throw error;
      });
      if (pooled.connection.era === 'modern') speaks.legacy = false;
      return pooled;
    }
  };

  const pool = createUpstreamPool({
    name,
    share: spec.share,
    maxConnections: spec.kind === 'http' ? spec.maxConnections : spec.maxChildren,
    idleTimeoutMs: spec.idleTimeout,
    restart:
      spec.kind === 'stdio'
        ? {
            maxRestarts: spec.restart.maxRestarts,
            windowMs: spec.restart.window,
            initialDelayMs: spec.restart.initialDelay,
            maxDelayMs: spec.restart.maxDelay,
          }
        : // An HTTP upstream is retried as long as it fails, never more often than every 10 s.
          { maxRestarts: Number.MAX_SAFE_INTEGER, windowMs: 60_000, initialDelayMs: 250, maxDelayMs: 10_000 },
    ...(spec.kind === 'stdio' ? { maxMemoryBytes: spec.maxMemory } : {}),
    async connect(key) {
      const pooled = await connect(key);
      const conn = pooled.connection;
      learn(conn);
      conn.onListChanged((kind) => notifyLists(kind, conn));
      conn.onResourceUpdated((uri) => notifyUpdate(uri, key));
      return pooled;
    },
    onEvent(event) {
      metrics.events.inc({ ...label, event: event.kind });
      if (event.kind === 'started') metrics.up.set(label, 1);
      if (event.kind === 'start_failed' || event.kind === 'crashed') metrics.up.set(label, 0);
      metrics.connections.set(label, pool.size());
    },
    logger,
  });
  const held = createHeldCalls({ inputTimeoutMs: spec.inputTimeout });

  // Upstream subscriptions of 2025 sessions, counted per connection: kept while one session needs them.
  const subscribers = new Map<string, number>();
  const createServer = createGatewayServerFactory({
    upstream: name,
    acquire: (principal, era) => pool.acquire(principal, eraFor(era)),
    policy,
    ...(pin ? { pin } : {}),
    held,
    callTimeoutMs: spec.callTimeout,
    inputTimeoutMs: spec.inputTimeout,
    scrub,
    capabilities: () => capabilities,
    identity: () => identity,
    onLegacyServer(server, principal: Principal | undefined) {
      legacyServers.set(server as McpServer & { subscriptions: Set<string> }, pool.keyOf(principal));
      return () => {
        const subscribed = (server as McpServer & { subscriptions: Set<string> }).subscriptions;
        for (const uri of subscribed) void release(pool.keyOf(principal), uri, principal);
        legacyServers.delete(server as McpServer & { subscriptions: Set<string> });
      };
    },
    async onSubscription(_server, principal, uri, subscribed) {
      const key = pool.keyOf(principal);
      if (!subscribed) return release(key, uri, principal);
      const id = `${key}\0${uri}`;
      const count = subscribers.get(id) ?? 0;
      subscribers.set(id, count + 1);
      if (count === 0) {
        const conn = await pool.acquire(principal, eraFor('legacy'));
        // A 2026-07-28 upstream has no subscriptions to ask for (its changes come by listen streams).
        if (conn.era === 'legacy') await conn.request('resources/subscribe', { uri }, { timeoutMs: spec.callTimeout });
      }
    },
    observe(method, outcome, seconds) {
      metrics.requests.inc({ ...label, method, outcome });
      metrics.duration.observe({ ...label, method }, seconds);
      metrics.held.set(label, held.size());
    },
    hooks,
    logger,
    ...(options.requestStateKey ? { requestStateKey: options.requestStateKey } : {}),
    ...(options.requestStateTtlSeconds ? { requestStateTtlSeconds: options.requestStateTtlSeconds } : {}),
  });
  const release = async (key: string, uri: string, principal: Principal | undefined): Promise<void> => {
    const id = `${key}\0${uri}`;
    const count = subscribers.get(id) ?? 0;
    if (count <= 1) subscribers.delete(id);
    else subscribers.set(id, count - 1);
    if (count !== 1) return;
    const conn = await pool.acquire(principal, eraFor('legacy')).catch(() => undefined);
    if (conn?.era === 'legacy')
      await conn.request('resources/unsubscribe', { uri }, { timeoutMs: spec.callTimeout }).catch(() => undefined);
  };

  return {
    name,
    spec,
    policy,
    pool,
    held,
    bus,
    createServer,
    paramHeaders: () => paramHeaders,
    async start() {
      // A first connection in the upstream's preferred era: what it speaks is learned there.
      const key = `${spec.share === 'shared' ? 'shared' : 'probe'}#${eraFor('modern')}`;
      try {
        await pool.warm(key);
      } catch (error) {
        logger.warn('upstream not reachable at start-up; retried on first use', { upstream: name, error: describeError(error) });
        return;
      }
      await pinChecked;
      // A per-principal child started only to learn the upstream is not kept: it belongs to no one.
      if (spec.share !== 'shared') await pool.drop(key);
    },
    async close() {
      held.close();
      await pool.close();
    },
  };
}
