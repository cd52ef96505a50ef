import type { IncomingHttpHeaders } from 'node:http';
import { classifyInboundRequest } from '@modelcontextprotocol/server';

/**
 * The protocol era of a request. `modern` is MCP 2026-07-28 and later: no
 * sessions, a `_meta` envelope and routing headers on every request. `legacy`
 * is the 2025 era: `initialize`, `Mcp-Session-Id`, SSE GET streams.
 */
export type McpEra = 'modern' | 'legacy';

/** Modern protocol revisions this server serves (the SDK's own modern list). */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ['2026-07-28'];

/** JSON-RPC code of a routing header that disagrees with the body (SEP-2243). */
export const HEADER_MISMATCH = -32020;
/** JSON-RPC code of an unsupported protocol version. */
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;

/** Which body field `Mcp-Name` mirrors, per method. */
const NAME_SOURCE: Readonly<Record<string, 'name' | 'uri'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/** What a request is, once its era is known and its routing headers agree with its body. */
export interface McpRequestFacts {
  era: McpEra;
  /** The single message's method (absent for GET/DELETE, responses and batches). */
  method?: string;
  /** The tool or prompt name, or the resource URI, the message targets. */
  name?: string;
  /** The protocol revision the request names (envelope or header). */
  protocolVersion?: string;
  /** W3C trace context from `_meta.traceparent` or the `traceparent` header, when well formed. */
  traceparent?: string;
}

/** A request the protocol itself refuses: the HTTP status and JSON-RPC error to answer with. */
export interface McpRejection {
  status: number;
  rpcCode: number;
  message: string;
  data?: unknown;
}

export type McpClassification = { ok: true; facts: McpRequestFacts } | { ok: false; rejection: McpRejection };

/** A tool argument a client mirrors into an `Mcp-Param-{header}` header (the tool schema's `x-mcp-header`). */
export interface ParamHeader {
  /** The header name after `Mcp-Param-`. */
  header: string;
  /** Where the argument sits in `arguments` (property names from the root). */
  path: readonly string[];
  /** The argument's JSON Schema type. */
  type: string;
}

/** Options of {@link classifyMcpRequest}. */
export interface ClassifyOptions {
  /** Per tool, the arguments mirrored into `Mcp-Param-*` headers, checked against the body. Default none. */
  paramHeaders?: Readonly<Record<string, readonly ParamHeader[]>>;
}

/** The parts of an HTTP request classification reads. */
export interface McpHttpRequest {
  method: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined for GET/DELETE). */
  body?: unknown;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const VERSION_SHAPE = /^[0-9A-Za-z._-]{1,32}$/;

/** The message of each protocol refusal the classifier can produce: fixed text, never a quoted value. */
const SAFE_MESSAGES: ReadonlyMap<number, string> = new Map([
  [HEADER_MISMATCH, 'Bad Request: the request headers and body disagree'],
  [UNSUPPORTED_PROTOCOL_VERSION, 'Unsupported protocol version'],
  [-32602, 'Invalid params: the _meta envelope is malformed or missing'],
  [-32600, 'Bad Request: not a valid JSON-RPC message for this endpoint'],
  [-32700, 'Parse error'],
]);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  // Node joins repeated custom headers with ", ", which then disagrees with the body.
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Trims RFC 9110 optional whitespace around a field value. */
function trimOws(value: string): string {
  return value.replace(/^[\t ]+|[\t ]+$/g, '');
}

/**
 * Decodes a routing header value: `=?base64?...?=` carries UTF-8 text in
 * canonical base64, anything else is the value itself. Undefined when the
 * sentinel form is malformed.
 */
export function decodeHeaderValue(raw: string): string | undefined {
  const value = trimOws(raw);
  if (!(value.startsWith('=?base64?') && value.endsWith('?='))) return value;
  const payload = value.slice(9, -2);
  if (!BASE64.test(payload)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(payload, 'base64'));
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The name a message targets (tool, prompt, resource URI), from its body. */
export function targetOf(method: string | undefined, params: unknown): string | undefined {
  const field = method !== undefined && Object.hasOwn(NAME_SOURCE, method) ? NAME_SOURCE[method] : undefined;
  const value = field && isObject(params) ? params[field] : undefined;
  return typeof value === 'string' ? value : undefined;
}

function traceparentOf(params: unknown, headers: IncomingHttpHeaders): string | undefined {
  const meta = isObject(params) && isObject(params._meta) ? params._meta : undefined;
  const candidate = typeof meta?.traceparent === 'string' ? meta.traceparent : header(headers, 'traceparent');
  return candidate !== undefined && TRACEPARENT.test(candidate) ? candidate : undefined;
}

const mismatch = (message: string): McpClassification => ({
  ok: false,
  rejection: { status: 400, rpcCode: HEADER_MISMATCH, message: `Bad Request: the request headers and body disagree: ${message}` },
});

/**
 * The standard routing headers of a modern request against its body:
 * `MCP-Protocol-Version` and `Mcp-Method` must be present, and `Mcp-Name`
 * must mirror the tool or prompt name or resource URI (after decoding its
 * base64 form). The SDK's classifier already refused a protocol version or
 * method header that disagrees with the body.
 */
function checkRoutingHeaders(headers: IncomingHttpHeaders, method: string, name: string | undefined): McpClassification | undefined {
  if (header(headers, 'mcp-protocol-version') === undefined) return mismatch('the required MCP-Protocol-Version header is absent');
  if (header(headers, 'mcp-method') === undefined) return mismatch('the required Mcp-Method header is absent');
  if (!Object.hasOwn(NAME_SOURCE, method)) return undefined;
  const raw = header(headers, 'mcp-name');
  if (raw === undefined) return name === undefined ? undefined : mismatch('the required Mcp-Name header is absent');
  const decoded = decodeHeaderValue(raw);
  if (decoded === undefined) return mismatch('the Mcp-Name header carries an invalid base64 value');
  if (name !== undefined && decoded !== name) return mismatch('the Mcp-Name header names another target than the body');
  return undefined;
}

const CLAIM_KEY = 'io.modelcontextprotocol/protocolVersion';
const FIRST_MODERN = '2026-07-28';

/**
 * The common 2025 request, classified without the SDK's schema checks: one
 * well-formed JSON-RPC request or notification whose params carry no `_meta`
 * envelope claim, under no modern `MCP-Protocol-Version` header. The SDK's
 * classifier answers `legacy` for exactly these (the rule is: no claim and no
 * modern header is 2025 traffic); anything else goes through it.
 */
function plainLegacyMessage(request: McpHttpRequest, versionHeader: string | undefined): McpClassification | undefined {
  const { method: httpMethod, body } = request;
  if (httpMethod !== 'POST' || !isObject(body) || body.jsonrpc !== '2.0' || typeof body.method !== 'string') return undefined;
  const { id, params } = body;
  if (id !== undefined && typeof id !== 'string' && !Number.isSafeInteger(id)) return undefined;
  if (params !== undefined && !isObject(params)) return undefined;
  if (params !== undefined && isObject(params._meta) && CLAIM_KEY in params._meta) return undefined;
  if (versionHeader !== undefined && trimOws(versionHeader) >= FIRST_MODERN) return undefined;
  const name = targetOf(body.method, params);
  const traceparent = traceparentOf(params, request.headers);
  return {
    ok: true,
    facts: {
      era: 'legacy',
      method: body.method,
      ...(name !== undefined ? { name } : {}),
      ...(traceparent ? { traceparent } : {}),
      ...(versionHeader !== undefined ? { protocolVersion: trimOws(versionHeader) } : {}),
    },
  };
}

/**
 * Classifies one HTTP request on the MCP endpoint into its era, with the
 * SDK's own classifier (so the stack and the SDK never disagree), and
 * verifies a modern request's routing headers against its body. A request
 * the protocol refuses (malformed envelope, unsupported version, headers that
 * disagree with the body) comes back as a rejection with the protocol's own
 * HTTP status and JSON-RPC code. Pure: reads the request, changes nothing.
 */
export function classifyMcpRequest(request: McpHttpRequest, options: ClassifyOptions = {}): McpClassification {
  const { headers, body } = request;
  const protocolVersionHeader = header(headers, 'mcp-protocol-version');
  const plain = plainLegacyMessage(request, protocolVersionHeader);
  if (plain) return plain;
  const mcpMethodHeader = header(headers, 'mcp-method');
  const mcpNameHeader = header(headers, 'mcp-name');
  const outcome = classifyInboundRequest({
    httpMethod: request.method,
    ...(protocolVersionHeader !== undefined ? { protocolVersionHeader } : {}),
    ...(mcpMethodHeader !== undefined ? { mcpMethodHeader } : {}),
    ...(mcpNameHeader !== undefined ? { mcpNameHeader } : {}),
    body,
  });
  if (outcome.kind === 'reject') {
    // The SDK's messages and data quote the offending header values; answers quote nothing the client sent.
    return {
      ok: false,
      rejection: { status: outcome.httpStatus, rpcCode: outcome.code, message: SAFE_MESSAGES.get(outcome.code) ?? 'Bad Request' },
    };
  }
  const message = isObject(body) ? body : undefined;
  const method = typeof message?.method === 'string' ? message.method : undefined;
  const name = targetOf(method, message?.params);
  const traceparent = traceparentOf(message?.params, headers);
  if (outcome.kind === 'legacy') {
    return {
      ok: true,
      facts: {
        era: 'legacy',
        ...(method !== undefined ? { method } : {}),
        ...(name !== undefined ? { name } : {}),
        ...(outcome.requestedVersion !== undefined ? { protocolVersion: outcome.requestedVersion } : {}),
        ...(traceparent ? { traceparent } : {}),
      },
    };
  }
  const revision = outcome.classification.revision;
  if (outcome.messageKind === 'request' && (revision === undefined || !MODERN_PROTOCOL_VERSIONS.includes(revision))) {
    // The requested version is echoed (the specification asks for it) only when it looks like one.
    const requested = revision !== undefined && VERSION_SHAPE.test(revision) ? revision : 'unknown';
    return {
      ok: false,
      rejection: {
        status: 400,
        rpcCode: UNSUPPORTED_PROTOCOL_VERSION,
        message: `Unsupported protocol version: ${requested}`,
        data: { supported: [...MODERN_PROTOCOL_VERSIONS], requested },
      },
    };
  }
  if (outcome.messageKind === 'request') {
    const refused = checkRoutingHeaders(headers, outcome.message.method, name);
    if (refused) return refused;
    const declared = outcome.message.method === 'tools/call' && name !== undefined ? options.paramHeaders?.[name] : undefined;
    const params = outcome.message.params as { arguments?: unknown } | undefined;
    const mismatched = declared ? checkParamHeaders(declared, params?.arguments, headers) : undefined;
    if (mismatched) return mismatch(mismatched);
  }
  return {
    ok: true,
    facts: {
      era: 'modern',
      method: outcome.message.method,
      ...(name !== undefined ? { name } : {}),
      ...(revision !== undefined ? { protocolVersion: revision } : {}),
      ...(traceparent ? { traceparent } : {}),
    },
  };
}

/** A primitive argument as its header text: strings as they are, numbers in decimal, booleans as `true`/`false`. */
function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number' && Number.isFinite(value) && (!Number.isInteger(value) || Number.isSafeInteger(value)))
    return String(value);
  return undefined;
}

/**
 * Each declared `Mcp-Param-*` header against the argument it mirrors: where
 * the body carries a value the header must be present and equal to it (after
 * base64 decoding; numbers compared as numbers). Returns what disagrees.
 */
export function checkParamHeaders(declared: readonly ParamHeader[], args: unknown, headers: IncomingHttpHeaders): string | undefined {
  for (const { header: name, path, type } of declared) {
    let value: unknown = args;
    for (const key of path) value = isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
    const expected = headerText(value);
    if (expected === undefined) continue;
    const raw = header(headers, `mcp-param-${name.toLowerCase()}`);
    if (raw === undefined) return `the Mcp-Param-${name} header is absent`;
    const decoded = decodeHeaderValue(raw);
    if (decoded === undefined) return `the Mcp-Param-${name} header carries an invalid base64 value`;
    const numeric = (type === 'integer' || type === 'number') && typeof value === 'number' && /^-?\d+(\.\d+)?$/.test(decoded);
    if (numeric ? Number(decoded) !== value : decoded !== expected) return `the Mcp-Param-${name} header disagrees with the body`;
  }
  return undefined;
}

/**
 * The `x-mcp-header` declarations of a tool's JSON input schema, found along
 * `properties` chains only (the one place the specification allows them).
 */
export function paramHeadersOf(inputSchema: unknown): ParamHeader[] {
  const found: ParamHeader[] = [];
  const visit = (node: unknown, path: string[]): void => {
    if (!isObject(node)) return;
    const name = node['x-mcp-header'];
    if (path.length > 0 && typeof name === 'string' && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
      found.push({ header: name, path, type: typeof node.type === 'string' ? node.type : 'string' });
    }
    if (isObject(node.properties)) for (const [key, child] of Object.entries(node.properties)) visit(child, [...path, key]);
  };
  visit(inputSchema, []);
  return found;
}

/**
 * What a modern request's routing headers claim, read before the body is
 * parsed: only when `MCP-Protocol-Version` names a modern revision. A
 * decision taken on these may only refuse; the body decides in the end.
 */
export function routingHeadersOf(headers: IncomingHttpHeaders): { method: string; name?: string } | undefined {
  const version = header(headers, 'mcp-protocol-version');
  if (version === undefined || !MODERN_PROTOCOL_VERSIONS.includes(trimOws(version))) return undefined;
  const method = header(headers, 'mcp-method');
  if (method === undefined) return undefined;
  const rawName = header(headers, 'mcp-name');
  const name = rawName === undefined ? undefined : decodeHeaderValue(rawName);
  return { method: trimOws(method), ...(name !== undefined ? { name } : {}) };
}

const classified = new WeakMap<object, McpClassification>();

/**
 * {@link classifyMcpRequest} for an HTTP request, computed once per request
 * object: the stack and the endpoint read the same answer.
 */
export function classifyOnce(request: McpHttpRequest, options?: ClassifyOptions): McpClassification {
  let result = classified.get(request);
  if (!result) {
    result = classifyMcpRequest(request, options);
    classified.set(request, result);
  }
  return result;
}
