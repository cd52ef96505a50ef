import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { principalOf } from '../core/principal.js';
import { ErrorCode } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';
import { describeError } from '../logging/redact.js';
import type { Logger } from '../logging/logger.js';
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
}

/** Options of {@link createMcpEndpoint}. */
export interface McpEndpointOptions {
  /** `stateful` (sessions, SSE streams) or `stateless` (a server per request). */
  mode: 'stateful' | 'stateless';
  createServer: ServerFactory;
  /** Answer with JSON instead of an SSE stream where the protocol allows. Default `false`. */
  jsonResponse?: boolean;
  /** Close sessions idle (no request, no open stream) this long. Default 30 min. */
  sessionIdleMs?: number;
  /** Most open sessions; the least recently used idle one is closed to admit a new one. Default 1000. */
  maxSessions?: number;
  hooks?: SessionHooks;
  logger?: Logger;
}

/** The MCP endpoint handler and its session registry. */
export interface McpEndpoint {
  handler: RequestHandler;
  sessionCount(): number;
  /** Requests being processed other than long-lived GET streams (for graceful shutdown). */
  activeRequests(): number;
  listSessions(): SessionSummary[];
  /** Closes every session of a principal (credential revoked); returns how many. */
  closeSessionsOf(principalId: string): Promise<number>;
  /** Closes every session and stream. */
  close(): Promise<void>;
}

interface Entry {
  id: string;
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  principalId: string;
  tenant: string | undefined;
  createdAt: number;
  lastSeen: number;
  inflight: number;
}

const ANONYMOUS = 'anonymous';

function ownerOf(auth: AuthInfo | undefined): { principalId: string; tenant: string | undefined } {
  const principal = principalOf(auth);
  return { principalId: principal?.id ?? auth?.clientId ?? ANONYMOUS, tenant: principal?.tenant };
}

/**
 * The streamable-HTTP MCP endpoint (POST, GET for the SSE stream, DELETE).
 * In stateful mode each session belongs to the principal that initialized
 * it: anyone else presenting its id gets the same 404 as for an unknown
 * session. Idle sessions expire and the number of sessions is bounded.
 */
export function createMcpEndpoint(options: McpEndpointOptions): McpEndpoint {
  const { mode, createServer, jsonResponse = false, sessionIdleMs = 30 * 60_000, maxSessions = 1000, hooks = {}, logger } = options;
  const sessions = new Map<string, Entry>();
  let active = 0;

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

  // Makes room for one more session by closing the least recently used idle one.
  const makeRoom = async (): Promise<boolean> => {
    if (sessions.size < maxSessions) return true;
    let victim: Entry | undefined;
    for (const entry of sessions.values()) if (entry.inflight === 0 && (!victim || entry.lastSeen < victim.lastSeen)) victim = entry;
    if (!victim) return false;
    await closeEntry(victim, 'evicted');
    return true;
  };

  const track = (entry: Entry, res: Response): void => {
    entry.inflight += 1;
    entry.lastSeen = Date.now();
    res.once('close', () => {
      entry.inflight -= 1;
      entry.lastSeen = Date.now();
    });
  };

  const openSession = async (req: Request, res: Response): Promise<void> => {
    if (!(await makeRoom())) throw new GuardError(ErrorCode.Unavailable, 'Too many open sessions');
    const owner = ownerOf(req.auth);
    const server = createServer(req.auth);
    let entry: Entry | undefined;
    // The callbacks below live as long as the session: they must not hold the initialize
    // request's response (and with it the request and its headers) after it is answered.
    const initialize: { res: Response | undefined } = { res };
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomBytes(32).toString('base64url'),
      enableJsonResponse: jsonResponse,
      onsessioninitialized: async (sessionId) => {
        entry = { id: sessionId, transport, server, ...owner, createdAt: Date.now(), lastSeen: Date.now(), inflight: 0 };
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

  const handleStateless = async (req: Request, res: Response): Promise<void> => {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      throw new GuardError(ErrorCode.MethodNotAllowed, 'Method not allowed in stateless mode');
    }
    const server = createServer(req.auth);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: jsonResponse });
    res.once('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  };

  const handleStateful = async (req: Request, res: Response): Promise<void> => {
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
    track(entry, res);
    await entry.transport.handleRequest(req, res, req.body);
  };

  return {
    handler: async function mcpEndpoint(req, res, next) {
      if (req.method !== 'GET') {
        active += 1;
        res.once('close', () => (active -= 1));
      }
      try {
        await (mode === 'stateful' ? handleStateful(req, res) : handleStateless(req, res));
      } catch (error) {
        next(error);
      }
    },
    sessionCount: () => sessions.size,
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
      return owned.length;
    },
    async close() {
      if (timer) clearInterval(timer);
      await Promise.all([...sessions.values()].map((entry) => closeEntry(entry, 'shutdown')));
    },
  };
}
