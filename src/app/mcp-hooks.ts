import type { Request } from 'express';
import type { AuditLogger } from '../audit/types.js';
import { principalOf } from '../core/principal.js';
import type { SessionHooks } from '../mcp/endpoint.js';
import type { McpHooks } from '../mcp/toolset.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { requestActor } from '../middleware/context.js';

/** Audit and metrics of tool calls: the audit event is written before the result is sent. */
export function toolCallHooks(audit: AuditLogger, metrics: GuardMetrics): McpHooks {
  return {
    async onToolCall(event) {
      const principal = principalOf(event.authInfo);
      metrics.toolCalls.inc({ tool: event.tool, outcome: event.outcome });
      metrics.toolDuration.observe({ tool: event.tool }, event.durationMs / 1000);
      await audit.record({
        type: 'tool.call',
        action: `tools/call ${event.tool}`,
        actor: principal ? { principalId: principal.id, role: principal.role, authMethod: principal.authMethod } : {},
        outcome: {
          status: event.outcome === 'error' ? 'error' : 'success',
          ...(event.outcome === 'input_required' ? { code: 'input_required' } : {}),
          durationMs: Math.round(event.durationMs * 1000) / 1000,
        },
        context: {
          ...(event.requestId ? { requestId: event.requestId } : {}),
          ...(event.sessionId ? { sessionId: event.sessionId } : {}),
          ...(principal?.tenant ? { tenant: principal.tenant } : {}),
          mcpMethod: 'tools/call',
          mcpName: event.tool,
          ...(event.traceparent ? { traceparent: event.traceparent } : {}),
        },
        details: { tool: event.tool, argsDigest: event.argsDigest, era: event.era },
      });
    },
  };
}

/** Audit and metrics of 2025 sessions and 2026-07-28 listen streams. */
export function sessionHooks(audit: AuditLogger, metrics: GuardMetrics, mcpPath: string): SessionHooks {
  return {
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
    async onHijackAttempt(event, req: Request) {
      metrics.sessionHijackAttempts.inc();
      const { actor, context } = requestActor(req);
      await audit.record({
        type: 'session.hijack_attempt',
        action: `${req.method} ${mcpPath}`,
        actor,
        outcome: { status: 'denied', code: 'not_found' },
        context: { ...context, sessionId: event.sessionId },
        details: { owner: event.principalId },
      });
    },
    onListenStreamChange: (delta) => metrics.openStreams.inc({ kind: 'subscriptions_listen' }, delta),
  };
}
