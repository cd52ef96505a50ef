import type { AuditEvent, AuditEventInput } from './event.js';

/**
 * Where audit events go. `record` resolves once the event is durable (handed
 * to the OS for the JSONL writer); callers that answer a request await it
 * first, so an answered request is never missing from the trail.
 */
export interface AuditLogger {
  record(event: AuditEventInput): Promise<AuditEvent>;
  /** False when the last write failed: `/ready` reports it and requests fail closed. */
  healthy(): boolean;
  /** Flushes pending events and releases the file. */
  close(): Promise<void>;
}

/** An audit logger that keeps nothing (audit switched off, or in tests). */
export function createNullAuditLogger(): AuditLogger {
  return {
    record: async (event) => ({ id: '', time: new Date().toISOString(), actor: {}, context: {}, ...event }) as AuditEvent,
    healthy: () => true,
    close: async () => undefined,
  };
}
