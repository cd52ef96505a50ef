import { type ErrorCode, statusFor } from './codes.js';

/** Extra facts an error carries to its response. None of them may hold a secret. */
export interface GuardErrorDetails {
  /** Seconds until a retry may succeed (429): sent as `Retry-After`. */
  retryAfter?: number;
  /** Scopes/permissions that would have allowed the request (403 insufficient_scope). */
  scope?: string;
  /** Extra response headers, already safe to send (for example `RateLimit`). */
  headers?: Record<string, string>;
  /**
   * For a refused JSON-RPC batch: the error of each message, by position
   * (`null` for a message that was allowed but not run because the batch was refused).
   */
  batch?: ReadonlyArray<GuardError | null>;
  /**
   * Protocol-defined error data sent in the JSON-RPC error's `data` (for
   * example the supported versions of an unsupported-version error). Never a secret.
   */
  data?: Record<string, unknown>;
  /** Why a credential was refused (`expired`, `revoked`, ...): for the audit log and metrics only, never sent. */
  reason?: string;
}

/**
 * The one error class of mcp-guard. `message` is written for the client and
 * must never contain a secret, a token, a path or a stack trace.
 *
 * @example throw new GuardError(ErrorCode.InvalidToken, 'The access token is invalid');
 */
export class GuardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: GuardErrorDetails;

  constructor(code: ErrorCode, message: string, details: GuardErrorDetails = {}) {
    super(message);
    this.name = 'GuardError';
    this.code = code;
    this.status = statusFor(code);
    this.details = details;
  }
}

/** True when `value` is a GuardError (also across module copies). */
export function isGuardError(value: unknown): value is GuardError {
  return value instanceof GuardError || (value instanceof Error && value.name === 'GuardError' && 'code' in value);
}
