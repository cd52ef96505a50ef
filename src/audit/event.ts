import { randomUUID } from 'node:crypto';
import { z } from 'zod';

/** Every audit event type mcp-guard writes. Stable: SIEM queries depend on these names. */
export const AUDIT_EVENT_TYPES = [
  'auth.success',
  'auth.failure',
  'auth.lockout',
  'authz.denied',
  'session.created',
  'session.closed',
  'session.hijack_attempt',
  'tool.call',
  'resource.read',
  'prompt.get',
  'ratelimit.hit',
  'key.created',
  'key.rotated',
  'key.revoked',
  'token.issued',
  'token.refreshed',
  'token.reuse_detected',
  'config.loaded',
  'config.changed',
  'audit.overflow',
  'audit.summary',
  'audit.budget_reached',
  'audit.resumed',
  'tool.drift',
  'tool.approved',
  'tool.blocked',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

// Characters that change how a line reads once the record is parsed and shown: C0 controls
// (newline, ESC, ...), DEL, C1 controls (0x80-0x9f, which some terminals obey), the Unicode line
// and paragraph separators, and bidirectional embeddings, overrides and isolates.
// eslint-disable-next-line no-control-regex
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Replaces every control character (C0, DEL, C1), line or paragraph separator
 * and bidirectional override in a value bound for the audit trail with U+FFFD.
 * Replaced, not removed, so `ad\u0000min` never reads as `admin`; one for one,
 * so a value never outgrows its field's limit. Every text field of an audit
 * event passes through it: methods, tool names, JWT claims, the User-Agent.
 */
export function cleanAuditText(value: string): string {
  return value.replace(UNSAFE_TEXT, '\ufffd');
}

const short = (max: number) => z.string().max(max).transform(cleanAuditText);

/** Who did it. Never a credential: `principalId` is the credential's id, not its secret. */
export const auditActorSchema = z
  .object({
    principalId: short(256).optional(),
    role: short(128).optional(),
    authMethod: short(64).optional(),
    ip: short(64).optional(),
    userAgent: short(256).optional(),
  })
  .strict();

/** How it ended. */
export const auditOutcomeSchema = z
  .object({
    status: z.enum(['success', 'failure', 'denied', 'error']),
    code: short(64).optional(),
    durationMs: z.number().nonnegative().optional(),
  })
  .strict();

/** Where it happened. */
export const auditContextSchema = z
  .object({
    tenant: short(128).optional(),
    sessionId: short(128).optional(),
    requestId: short(128).optional(),
    /** The MCP method and its target (tool, prompt, resource URI), from the verified body. */
    mcpMethod: short(128).optional(),
    mcpName: short(256).optional(),
    /** W3C trace context the client sent (`_meta.traceparent` or the `traceparent` header). */
    traceparent: short(64).optional(),
  })
  .strict();

/** What callers pass to `AuditLogger.record`: the logger adds `id` and `time`. */
export const auditEventInputSchema = z
  .object({
    type: z.enum(AUDIT_EVENT_TYPES),
    action: short(512),
    actor: auditActorSchema.default({}),
    outcome: auditOutcomeSchema,
    context: auditContextSchema.default({}),
    details: z.record(z.string(), z.union([short(1024), z.number(), z.boolean(), z.null()])).optional(),
  })
  .strict();

export type AuditEventInput = z.input<typeof auditEventInputSchema>;

/** One audit record as written to the trail. */
export type AuditEvent = z.output<typeof auditEventInputSchema> & { id: string; time: string };

/**
 * Validates an event and stamps it with an id and an ISO time. Throws a
 * `TypeError` naming the bad fields (never their values) for a malformed event.
 */
export function createAuditEvent(input: AuditEventInput, now: Date = new Date()): AuditEvent {
  const parsed = auditEventInputSchema.safeParse(input);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.') || '(event)');
    throw new TypeError(`invalid audit event: ${[...new Set(fields)].join(', ')}`);
  }
  return { id: randomUUID(), time: now.toISOString(), ...parsed.data };
}
