/** Why the audit trail refused to start or to write. */
export type AuditTrailErrorCode =
  /** Another live writer holds the stream's lock file. */
  | 'audit_locked'
  /** This writer's lock file was removed or taken over: it stops writing rather than fork the chain. */
  | 'audit_lock_lost'
  /** The audit directory reached its byte budget (`maxDirBytes`). */
  | 'audit_budget_reached'
  /** The trail on disk disagrees with its checkpoint (records removed, or a checkpoint that cannot be trusted). */
  | 'audit_checkpoint';

/**
 * An audit trail that cannot be written, or must not be. Messages are for the
 * operator's log (they name files and processes), never for a response: the
 * request that meets one gets a plain 503.
 */
export class AuditTrailError extends Error {
  override readonly name = 'AuditTrailError';
  constructor(
    readonly code: AuditTrailErrorCode,
    message: string,
  ) {
    super(message);
  }
}
