import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { createMcpHandler, isInitializeRequest, type AuthInfo, type McpServer, type ServerEventBus } from '@modelcontextprotocol/server';
import { NodeStreamableHTTPServerTransport, toNodeHandler } from '@modelcontextprotocol/node';
import { principalOf } from '../core/principal.js';
import { ErrorCode } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';
import { describeError } from '../logging/redact.js';
import type { Logger } from '../logging/logger.js';
import { classifyOnce, decodeHeaderValue } from './era.js';
import { createSessionEventStore } from './event-store.js';
import type { ServerFactory } from './server.js';
import type { SessionSummary } from './toolset.js';

/** A session event for audit and metrics. */
export interface SessionEvent {
  sessionId: string;
  principalId: string;
  tenant: string | undefined;
  reason?: 'deleted' | 'idle' | 'evicted' | 'revoked' | 'shutdown' | 'closed';
}

/** Session callbacks; `onSessionCreated` is awaited before the initialize response. */
export interface SessionHooks {
  onSessionCreated?(event: SessionEvent): Promise<void>;
  onSessionClosed?(event: SessionEvent): void;
  /** A request presented a session id owned by someone else (answered 404). */
  onHijackAttempt?(event: SessionEvent & { presentedBy: string }, req: Request): Promise<void>;
  /** A `subscriptions/listen` stream opened (+1) or closed (-1). */
  onListenStreamChange?(delta: 1 | -1): void;
}

/** Options of {@link createMcpEndpoint}. */
export interface McpEndpointOptions {
  /**
   * How 2025-era clients are served: `stateful` (sessions, SSE GET streams,
   * resumption) or `stateless` (a server per request). 2026-07-28 requests
   * are always stateless.
   */
  mode: 'stateful' | 'stateless';
  createServer: ServerFactory;
  /** Answer with JSON instead of an SSE stream where the protocol allows. Default `false`. */
  jsonResponse?: boolean;
  /** Close 2025 sessions idle (no request, no open stream) this long. Default 30 min. */
  sessionIdleMs?: number;
  /** Most open 2025 sessions in all. Default 1000. */
  maxSessions?: number;
  /** Most open 2025 sessions of one principal. Default 10. */
  maxSessionsPerPrincipal?: number;
  /** Most open `subscriptions/listen` streams in all. Default 1000. */
  maxListenStreams?: number;
  /** Most open `subscriptions/listen` streams of one principal. Default 4. */
  maxListenStreamsPerPrincipal?: number;
  /** The change events `subscriptions/listen` streams carry (see `Toolset.bus`). Default: an in-process bus nothing publishes on. */
  bus?: ServerEventBus;
  hooks?: SessionHooks;
  logger?: Logger;
}

/** The MCP endpoint handler and its session registry. */
export interface McpEndpoint {
  handler: RequestHandler;
  sessionCount(): number;
  /** Open `subscriptions/listen` streams. */
  listenStreamCount(): number;
  /** Requests being processed other than long-lived streams (for graceful shutdown). */
  activeRequests(): number;
  listSessions(): SessionSummary[];
  /** Closes every session and stream of a principal (credential revoked); returns how many. */
  closeSessionsOf(principalId: string): Promise<number>;
  /** Closes every session and stream. */
  close(): Promise<void>;
}

interface Entry {
  id: string;
  transport: NodeStreamableHTTPServerTransport;
  server: McpServer;
  principalId: string;
  tenant: string | undefined;
  createdAt: number;
  lastSeen: number;
  inflight: number;
  /** JSON-RPC ids of the requests in flight: the transport maps responses by id, so a reused one would hang. */
  ids: Set<string>;
}

const ANONYMOUS = 'anonymous';

/** The tool a 2026-07-28 `tools/call` names in its (verified) routing headers. */
function calledTool(request: globalThis.Request | undefined): string | undefined {
  if (request?.headers.get('mcp-method') !== 'tools/call') return undefined;
  const name = request.headers.get('mcp-name');
  return name === null ? undefined : decodeHeaderValue(name);
}
/** Seconds a client refused for holding too many sessions or streams should wait. */
const CAP_RETRY_AFTER = 30;
/**
 * The SSE `retry` a 2025 session's streams announce in their priming event
 * (SEP-1699): how long a client waits before resuming a stream the server
 * closed (polling) or lost, with `Last-Event-ID`. The SDK client's own default.
 */
const SSE_RETRY_MS = 1000;

function ownerOf(auth: AuthInfo | undefined): { principalId: string; tenant: string | undefined } {
  const principal = principalOf(auth);
  return { principalId: principal?.id ?? auth?.clientId ?? ANONYMOUS, tenant: principal?.tenant };
}

/**
 * The MCP endpoint for both protocol eras, classified per request. A
 * 2026-07-28 request is served by the SDK's stateless handler (a server per
 * request, `subscriptions/listen` streams capped per principal and in all). A
 * 2025 request is served by a session bound to the principal that initialized
 * it (anyone else presenting its id gets the answer for an unknown session),
 * or statelessly. Sessions expire when idle and are bounded in all and per
 * principal; a full pool only ever evicts idle sessions, never one with a
 * request or stream open.
 */
export function createMcpEndpoint(options: McpEndpointOptions): McpEndpoint {
  const {
    mode,
    createServer,
    jsonResponse = false,
    sessionIdleMs = 30 * 60_000,
    maxSessions = 1000,
    maxSessionsPerPrincipal = 10,
    maxListenStreams = 1000,
    maxListenStreamsPerPrincipal = 4,
    bus,
    hooks = {},
    logger,
  } = options;
  const sessions = new Map<string, Entry>();
  const listeners = new Map<string, Set<Response>>();
  let listenCount = 0;
  let active = 0;

  // A tools/call needs only its tool on its server: its name is in Mcp-Name (checked against the body).
  const modern = createMcpHandler(
    ({ authInfo, requestInfo }) => createServer({ authInfo, era: 'modern', onlyTool: calledTool(requestInfo) }),
    {
      legacy: 'reject',
      responseMode: jsonResponse ? 'json' : 'auto',
      // The endpoint's own caps apply first; the SDK's is a backstop.
      maxSubscriptions: maxListenStreams + 1,
      ...(bus ? { bus } : {}),
      onerror: (error) => logger?.debug('MCP request refused or failed', { error: describeError(error) }),
    },
  );
  const serveModern = toNodeHandler(modern);

  const closeEntry = async (entry: Entry, reason: NonNullable<SessionEvent['reason']>): Promise<void> => {
    if (!sessions.delete(entry.id)) return;
    hooks.onSessionClosed?.({ sessionId: entry.id, principalId: entry.principalId, tenant: entry.tenant, reason });
    try {
      await entry.transport.close();
      await entry.server.close();
    } catch (error) {
      logger?.warn('closing an MCP session failed', { error: describeError(error) });
    }
  };

  const sweep = (): void => {
    const cutoff = Date.now() - sessionIdleMs;
    for (const entry of sessions.values()) if (entry.inflight === 0 && entry.lastSeen < cutoff) void closeEntry(entry, 'idle');
  };
  const timer = mode === 'stateful' ? setInterval(sweep, Math.min(60_000, Math.max(250, sessionIdleMs / 4))) : undefined;
  timer?.unref();

  /** The least recently used session with nothing open, among those `match` selects. */
  const idlest = (match: (entry: Entry) => boolean): Entry | undefined => {
    let victim: Entry | undefined;
    for (const entry of sessions.values()) {
      if (entry.inflight === 0 && match(entry) && (!victim || entry.lastSeen < victim.lastSeen)) victim = entry;
    }
    return victim;
  };

  // Makes room for one more session of `principalId`: its own idlest session goes first when it is
  // at its cap; a full pool gives up the idlest session of anyone. Nothing open is ever evicted.
  const makeRoom = async (principalId: string): Promise<void> => {
    let owned = 0;
    for (const entry of sessions.values()) if (entry.principalId === principalId) owned += 1;
    if (owned >= maxSessionsPerPrincipal) {
      const own = idlest((entry) => entry.principalId === principalId);
      if (!own)
        throw new GuardError(ErrorCode.TooManySessions, 'Too many open sessions for this principal', { retryAfter: CAP_RETRY_AFTER });
      await closeEntry(own, 'evicted');
      return;
    }
    if (sessions.size < maxSessions) return;
    const victim = idlest(() => true);
    if (!victim) throw new GuardError(ErrorCode.Unavailable, 'Too many open sessions', { retryAfter: CAP_RETRY_AFTER });
    await closeEntry(victim, 'evicted');
  };

  const track = (entry: Entry, res: Response): void => {
    entry.inflight += 1;
    entry.lastSeen = Date.now();
    res.once('close', () => {
      entry.inflight -= 1;
      entry.lastSeen = Date.now();
    });
  };

  // The SDK's transport routes each response by its JSON-RPC id: a second request reusing an id still
  // in flight would take the first one's place and leave it unanswered. Such a request is refused.
  const claimIds = (entry: Entry, req: Request, res: Response): void => {
    if (req.method !== 'POST') return;
    const keys: string[] = [];
    for (const message of Array.isArray(req.body) ? (req.body as unknown[]) : [req.body]) {
      const { id, method } = (message ?? {}) as { id?: unknown; method?: unknown };
      if (typeof method !== 'string' || (typeof id !== 'string' && typeof id !== 'number')) continue;
      const key = `${typeof id}:${id}`;
      if (entry.ids.has(key) || keys.includes(key)) {
        throw new GuardError(ErrorCode.InvalidRequest, 'Bad Request: a request with this id is already in flight in this session');
      }
      keys.push(key);
    }
    for (const key of keys) entry.ids.add(key);
    res.once('close', () => {
      for (const key of keys) entry.ids.delete(key);
    });
  };

  const openSession = async (req: Request, res: Response): Promise<void> => {
    const owner = ownerOf(req.auth);
    await makeRoom(owner.principalId);
    const server = createServer({ authInfo: req.auth, era: 'legacy' });
    let entry: Entry | undefined;
    // The callbacks below live as long as the session: they must not hold the initialize
    // request's response (and with it the request and its headers) after it is answered.
    const initialize: { res: Response | undefined } = { res };
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomBytes(32).toString('base64url'),
      enableJsonResponse: jsonResponse,
      eventStore: createSessionEventStore(),
      retryInterval: SSE_RETRY_MS,
      onsessioninitialized: async (sessionId) => {
        entry = { id: sessionId, transport, server, ...owner, createdAt: Date.now(), lastSeen: Date.now(), inflight: 0, ids: new Set() };
        sessions.set(sessionId, entry);
        if (initialize.res) track(entry, initialize.res);
        await hooks.onSessionCreated?.({ sessionId, ...owner });
      },
      onsessionclosed: async (sessionId) => {
        const closing = sessions.get(sessionId);
        if (closing) await closeEntry(closing, 'deleted');
      },
    });
    transport.onclose = () => {
      if (entry && sessions.get(entry.id) === entry) void closeEntry(entry, 'closed');
    };
    await server.connect(transport);
    try {
      await transport.handleRequest(req, res, req.body);
    } finally {
      initialize.res = undefined;
    }
  };

  const handleLegacyStateless = async (req: Request, res: Response): Promise<void> => {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      throw new GuardError(ErrorCode.MethodNotAllowed, 'Method not allowed in stateless mode');
    }
    const classified = classifyOnce(req);
    const single =
      classified.ok && classified.facts.method === 'tools/call' && !Array.isArray(req.body) ? classified.facts.name : undefined;
    const server = createServer({ authInfo: req.auth, era: 'legacy', onlyTool: single });
    const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: jsonResponse });
    res.once('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  };

  const handleLegacyStateful = async (req: Request, res: Response): Promise<void> => {
    const header = req.headers['mcp-session-id'];
    if (header === undefined) {
      if (req.method === 'POST' && !Array.isArray(req.body) && isInitializeRequest(req.body)) return openSession(req, res);
      throw new GuardError(ErrorCode.InvalidRequest, 'Bad Request: Mcp-Session-Id header is required');
    }
    const entry = typeof header === 'string' ? sessions.get(header) : undefined;
    if (!entry) throw new GuardError(ErrorCode.NotFound, 'Session not found');
    const caller = ownerOf(req.auth);
    if (caller.principalId !== entry.principalId || caller.tenant !== entry.tenant) {
      await hooks.onHijackAttempt?.(
        { sessionId: entry.id, principalId: entry.principalId, tenant: entry.tenant, presentedBy: caller.principalId },
        req,
      );
      // Exactly the answer for an unknown session: the id's existence is not revealed.
      throw new GuardError(ErrorCode.NotFound, 'Session not found');
    }
    claimIds(entry, req, res);
    track(entry, res);
    await entry.transport.handleRequest(req, res, req.body);
  };

  // A subscriptions/listen stream: counted per principal, closed with its principal's credential.
  const openListenStream = async (req: Request, res: Response): Promise<void> => {
    const { principalId } = ownerOf(req.auth);
    const open = listeners.get(principalId) ?? new Set<Response>();
    if (open.size >= maxListenStreamsPerPrincipal) {
      throw new GuardError(ErrorCode.TooManyStreams, 'Too many open subscription streams for this principal', {
        retryAfter: CAP_RETRY_AFTER,
      });
    }
    if (listenCount >= maxListenStreams)
      throw new GuardError(ErrorCode.Unavailable, 'Too many open subscription streams', { retryAfter: CAP_RETRY_AFTER });
    open.add(res);
    listeners.set(principalId, open);
    listenCount += 1;
    hooks.onListenStreamChange?.(1);
    res.once('close', () => {
      open.delete(res);
      if (open.size === 0 && listeners.get(principalId) === open) listeners.delete(principalId);
      listenCount -= 1;
      hooks.onListenStreamChange?.(-1);
    });
    await serveModern(req, res, req.body);
  };

  const endStreams = (streams: Iterable<Response>): number => {
    let count = 0;
    for (const res of [...streams]) {
      count += 1;
      res.destroy();
    }
    return count;
  };

  return {
    handler: async function mcpEndpoint(req, res, next) {
      try {
        const classified = classifyOnce(req);
        // The stack refuses what the protocol refuses before this point; a bare mount still must not serve it.
        if (!classified.ok) throw new GuardError(ErrorCode.InvalidRequest, classified.rejection.message);
        const { era, method } = classified.facts;
        if (era === 'modern' && method === 'subscriptions/listen') return await openListenStream(req, res);
        if (req.method !== 'GET') {
          active += 1;
          res.once('close', () => (active -= 1));
        }
        if (era === 'modern') return await serveModern(req, res, req.body);
        await (mode === 'stateful' ? handleLegacyStateful(req, res) : handleLegacyStateless(req, res));
      } catch (error) {
        next(error);
      }
    },
    sessionCount: () => sessions.size,
    listenStreamCount: () => listenCount,
    activeRequests: () => active,
    listSessions: () =>
      [...sessions.values()].map((entry) => ({
        // A prefix is enough to tell sessions apart; the full id stays with its owner.
        id: `${entry.id.slice(0, 8)}...`,
        principalId: entry.principalId,
        tenant: entry.tenant,
        createdAt: new Date(entry.createdAt).toISOString(),
        lastSeenAt: new Date(entry.lastSeen).toISOString(),
        openRequests: entry.inflight,
      })),
    async closeSessionsOf(principalId) {
      const owned = [...sessions.values()].filter((entry) => entry.principalId === principalId);
      await Promise.all(owned.map((entry) => closeEntry(entry, 'revoked')));
      return owned.length + endStreams(listeners.get(principalId) ?? []);
    },
    async close() {
      if (timer) clearInterval(timer);
      for (const open of listeners.values()) endStreams(open);
      await Promise.all([...sessions.values()].map((entry) => closeEntry(entry, 'shutdown')));
      await modern.close();
    },
  };
}
