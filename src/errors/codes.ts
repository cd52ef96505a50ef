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
  /** The JSON-RPC method does not exist in the request's protocol revision. 404, -32601. */
  MethodNotFound: 'method_not_found',
  /** An MCP routing header (`Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`, `MCP-Protocol-Version`) disagrees with the body. 400, -32020. */
  HeaderMismatch: 'header_mismatch',
  /** The request names a protocol revision this server does not serve. 400, -32022. */
  UnsupportedProtocolVersion: 'unsupported_protocol_version',
  /** The request's parameters (its `_meta` envelope) are malformed. 400, -32602. */
  InvalidParams: 'invalid_params',
  /** The request needs a client capability the client did not declare. 400, -32021. */
  MissingClientCapability: 'missing_client_capability',
  /** The principal holds as many MCP sessions as it may. 429. */
  TooManySessions: 'too_many_sessions',
  /** The principal holds as many long-lived streams as it may. 429. */
  TooManyStreams: 'too_many_streams',
  /**
   * The tool or prompt named is blocked by tool-definition pinning: its definition differs from the
   * tool lock, is not in it, or hides text nobody approved (docs/pinning.md). 403, -32019.
   */
  ToolBlocked: 'tool_blocked',
  /** The server cannot record the request in the audit log, or is shutting down. 503. */
  Unavailable: 'unavailable',
  /** Anything unexpected. 500; the body never carries details. */
  Internal: 'internal_error',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The JSON-RPC error number of a blocked tool or prompt (tool-definition pinning), in the
 * implementation-defined server range (-32000 to -32019) at its top, away from the gateway's
 * -32010 to -32014. The gateway answers it inside MCP (HTTP 200), library mode with 403.
 */
export const TOOL_BLOCKED_RPC = -32019;

interface CodeInfo {
  status: number;
  /** JSON-RPC error number used on the MCP endpoint. */
  rpc: number;
}

// JSON-RPC reserves -32768..-32000; -32700/-32600/-32601/-32602 are the standard parse,
// invalid-request, method-not-found and invalid-params errors, -32020..-32099 are MCP's own
// (header mismatch, missing client capability, unsupported version), and the rest sit in the
// implementation-defined server range.
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
  method_not_found: { status: 404, rpc: -32601 },
  header_mismatch: { status: 400, rpc: -32020 },
  unsupported_protocol_version: { status: 400, rpc: -32022 },
  invalid_params: { status: 400, rpc: -32602 },
  missing_client_capability: { status: 400, rpc: -32021 },
  too_many_sessions: { status: 429, rpc: -32029 },
  too_many_streams: { status: 429, rpc: -32029 },
  tool_blocked: { status: 403, rpc: TOOL_BLOCKED_RPC },
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

const BY_RPC: ReadonlyMap<number, ErrorCode> = new Map([
  [-32700, ErrorCode.ParseError],
  [-32600, ErrorCode.InvalidRequest],
  [-32601, ErrorCode.MethodNotFound],
  [-32602, ErrorCode.InvalidParams],
  [-32020, ErrorCode.HeaderMismatch],
  [-32021, ErrorCode.MissingClientCapability],
  [-32022, ErrorCode.UnsupportedProtocolVersion],
]);

/** The error code for a JSON-RPC error number the MCP protocol itself answers with (else `invalid_request`). */
export function codeForRpc(rpc: number): ErrorCode {
  return BY_RPC.get(rpc) ?? ErrorCode.InvalidRequest;
}
