import type { Request } from 'express';
import type { AuthInfo } from '@modelcontextprotocol/server';
import { cleanAuditText } from '../audit/event.js';
import type { Principal } from '../core/principal.js';

/** The MCP protocol era of a request: 2026-07-28 and later (`modern`) or 2025 (`legacy`). */
export type McpEra = 'modern' | 'legacy';

/** What an MCP request is, once its body was classified and its routing headers verified against it. */
export interface McpRequestInfo {
  era: McpEra;
  /** The single message's method. */
  method?: string;
  /** The tool or prompt name, or the resource URI, the message targets. */
  name?: string;
  protocolVersion?: string;
  /** W3C trace context of the request, when well formed. */
  traceparent?: string;
}

/** What mcp-guard learns about a request as it passes the stack. */
export interface GuardRequestState {
  requestId: string;
  /** `process.hrtime.bigint()` when the request entered the stack. */
  startedAt: bigint;
  principal?: Principal;
  /** Low-cardinality route label for metrics, e.g. `mcp`, `health`. */
  route?: string;
  /**
   * What a 2026-07-28 request's routing headers claim (`Mcp-Method`,
   * `Mcp-Name`), read before the body is parsed. Only ever a reason to refuse.
   */
  routing?: { method: string; name?: string };
  /** The MCP request, classified from its verified body. */
  mcp?: McpRequestInfo;
  /** Set once the per-tool limit has been taken for this request (from its routing headers). */
  toolLimitTaken?: boolean;
  /**
   * A refusal decided from the routing headers before the body was read. It
   * is answered once the body is read and agrees with the headers (a
   * disagreement is answered 400 instead), so that the answer carries the
   * request's JSON-RPC id; `record` writes its audit event at that moment.
   */
  earlyRefusal?: { error: Error; record?: () => Promise<void> };
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by mcp-guard's request-id middleware and filled in along the stack. */
    guard?: GuardRequestState;
    /** The SDK's authentication info, set by mcp-guard's authentication middleware. */
    auth?: AuthInfo;
  }
}

/** The request state, created on first use (for handlers mounted without request-id). */
export function guardState(req: Request): GuardRequestState {
  if (!req.guard) req.guard = { requestId: '', startedAt: process.hrtime.bigint() };
  return req.guard;
}

const MAX_AGENT = 256;

/** The audit actor and context of a request: who, from where, in which request. */
export function requestActor(req: Request): {
  actor: { principalId?: string; role?: string; authMethod?: string; ip?: string; userAgent?: string };
  context: {
    requestId?: string;
    tenant?: string;
    sessionId?: string;
    mcpMethod?: string;
    mcpName?: string;
    traceparent?: string;
  };
} {
  const principal = req.guard?.principal;
  // The verified body's method and target, or (for an early refusal) what the routing headers claimed.
  const mcp: { method?: string; name?: string; traceparent?: string } | undefined = req.guard?.mcp ?? req.guard?.routing;
  const agent = req.headers['user-agent'];
  const session = req.headers['mcp-session-id'];
  return {
    actor: {
      ...(principal ? { principalId: principal.id, role: principal.role, authMethod: principal.authMethod } : {}),
      ...(req.ip ? { ip: req.ip } : {}),
      // Control characters are replaced where every audit field is cleaned (cleanAuditText).
      ...(agent ? { userAgent: agent.slice(0, MAX_AGENT) } : {}),
    },
    context: {
      ...(req.guard?.requestId ? { requestId: req.guard.requestId } : {}),
      ...(principal?.tenant ? { tenant: principal.tenant } : {}),
      ...(typeof session === 'string' && /^[\x21-\x7e]{1,128}$/.test(session) ? { sessionId: session } : {}),
      ...(mcp?.method !== undefined ? { mcpMethod: cleanAuditText(mcp.method.slice(0, 128)) } : {}),
      ...(mcp?.name !== undefined ? { mcpName: cleanAuditText(mcp.name.slice(0, 256)) } : {}),
      ...(mcp?.traceparent !== undefined ? { traceparent: mcp.traceparent } : {}),
    },
  };
}
