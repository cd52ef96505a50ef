/**
 * Stable error codes of mcp-guard. Clients may branch on them; they never change meaning.
 * The HTTP status and the JSON-RPC error number of each code live here and nowhere else.
 */
export const ErrorCode = {
  /** No credential was presented. 401. */
  Unauthenticated: 'unauthenticated',
  /** A credential was presented but is invalid, expired or revoked. 401. */
  InvalidToken: 'invalid_token',
  /** The principal lacks the permission the request needs. 403. */
  InsufficientScope: 'insufficient_scope',
  /** The request is refused for a reason other than scope (IP allowlist, tenant). 403. */
  Forbidden: 'forbidden',
  /** The `Origin` header names an origin that is not allowed. 403. */
  OriginNotAllowed: 'origin_not_allowed',
  /** The `Host` header names a host that is not allowed (DNS rebinding). 403. */
  HostNotAllowed: 'host_not_allowed',
  /** Too many requests in the current window. 429. */
  RateLimited: 'rate_limited',
  /** Too many failed authentication attempts; locked out for a while. 429. */
  LockedOut: 'locked_out',
  /** The body is not valid JSON. 400. */
  ParseError: 'parse_error',
  /** The request is malformed (bad header, bad JSON-RPC shape, batch too large). 400. */
  InvalidRequest: 'invalid_request',
  /** The body exceeds the configured limit. 413. */
  PayloadTooLarge: 'payload_too_large',
  /** The body is not `application/json`. 415. */
  UnsupportedMediaType: 'unsupported_media_type',
  /** No such route or session. 404. */
  NotFound: 'not_found',
  /** The HTTP method is not allowed here. 405. */
  MethodNotAllowed: 'method_not_allowed',
  /** The server cannot record the request in the audit log, or is shutting down. 503. */
  Unavailable: 'unavailable',
  /** Anything unexpected. 500; the body never carries details. */
  Internal: 'internal_error',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

interface CodeInfo {
  status: number;
  /** JSON-RPC error number used on the MCP endpoint. */
  rpc: number;
}

// JSON-RPC reserves -32768..-32000; -32700/-32600 are the standard parse and
// invalid-request errors, the rest sit in the implementation-defined server range.
const CODE_INFO: Record<ErrorCode, CodeInfo> = {
  unauthenticated: { status: 401, rpc: -32001 },
  invalid_token: { status: 401, rpc: -32001 },
  insufficient_scope: { status: 403, rpc: -32003 },
  forbidden: { status: 403, rpc: -32003 },
  origin_not_allowed: { status: 403, rpc: -32003 },
  host_not_allowed: { status: 403, rpc: -32003 },
  rate_limited: { status: 429, rpc: -32029 },
  locked_out: { status: 429, rpc: -32029 },
  parse_error: { status: 400, rpc: -32700 },
  invalid_request: { status: 400, rpc: -32600 },
  payload_too_large: { status: 413, rpc: -32600 },
  unsupported_media_type: { status: 415, rpc: -32600 },
  not_found: { status: 404, rpc: -32001 },
  method_not_allowed: { status: 405, rpc: -32000 },
  unavailable: { status: 503, rpc: -32000 },
  internal_error: { status: 500, rpc: -32603 },
};

/** The HTTP status for an error code. */
export function statusFor(code: ErrorCode): number {
  return CODE_INFO[code].status;
}

/** The JSON-RPC error number for an error code. */
export function rpcCodeFor(code: ErrorCode): number {
  return CODE_INFO[code].rpc;
}
