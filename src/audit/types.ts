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
  // Nothing is kept, so nothing is built: one shared, already resolved answer.
  const none = Promise.resolve(
    Object.freeze({ id: '', time: '', type: 'config.loaded', action: '', actor: {}, context: {}, outcome: { status: 'success' } }) as AuditEvent,
  );
  return {
    record: () => none,
    healthy: () => true,
    close: async () => undefined,
  };
}
