import type { Request } from 'express';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Principal } from '../core/principal.js';

/** What mcp-guard learns about a request as it passes the stack. */
export interface GuardRequestState {
  requestId: string;
  /** `process.hrtime.bigint()` when the request entered the stack. */
  startedAt: bigint;
  principal?: Principal;
  /** Low-cardinality route label for metrics, e.g. `mcp`, `health`. */
  route?: string;
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
  context: { requestId?: string; tenant?: string; sessionId?: string };
} {
  const principal = req.guard?.principal;
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
    },
  };
}
