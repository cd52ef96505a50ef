import { ProtocolError, SdkError, SdkErrorCode, SdkHttpError } from '@modelcontextprotocol/client';

/**
 * JSON-RPC error codes of the gateway, in the implementation-defined range
 * (-32000 to -32019; -32020 to -32099 belong to MCP). Stable: clients may branch on them.
 */
export const GatewayRpcCode = {
  /** The upstream cannot be reached, its child is not running, or it keeps crashing. */
  UpstreamUnavailable: -32010,
  /** The upstream did not answer within the upstream's `callTimeout`. */
  UpstreamTimeout: -32011,
  /** The upstream answered with something that is not a valid MCP answer (garbage, too large, cut off). */
  UpstreamBadResponse: -32012,
  /** What was asked cannot be carried between the client's protocol era and the upstream's. */
  NotBridgeable: -32013,
  /** The upstream's connection or child limit is reached and every one is busy: retry later. */
  UpstreamBusy: -32014,
} as const;

export type GatewayErrorKind = keyof typeof GatewayRpcCode;

const CODES: Record<GatewayErrorKind, string> = {
  UpstreamUnavailable: 'upstream_unavailable',
  UpstreamTimeout: 'upstream_timeout',
  UpstreamBadResponse: 'upstream_bad_response',
  NotBridgeable: 'not_bridgeable',
  UpstreamBusy: 'upstream_busy',
};

/** A failure of the gateway's own (not one the upstream answered): a fixed message, never internals. */
export class UpstreamError extends Error {
  readonly kind: GatewayErrorKind;
  constructor(kind: GatewayErrorKind, message: string) {
    super(message);
    this.name = 'UpstreamError';
    this.kind = kind;
  }
}

/** The JSON-RPC error a client gets for a gateway failure. */
export function gatewayError(kind: GatewayErrorKind, message: string, upstream: string): ProtocolError {
  return new ProtocolError(GatewayRpcCode[kind], message, { code: CODES[kind], upstream });
}

/** Longest upstream error message relayed. */
const MAX_MESSAGE = 1000;
/** Largest upstream error `data` relayed (as JSON); larger data is dropped. */
const MAX_DATA = 4096;

/**
 * What a client gets when forwarding a request to an upstream failed: the
 * upstream's own JSON-RPC error relayed (its code, its message cut to 1000
 * characters, its data when small), or the gateway's error for a timeout, a
 * broken or refusing upstream, an oversized or garbled answer. Never a stack,
 * a path or a credential: `scrub` removes the upstream's secrets from what is relayed.
 */
export function forwardingError(error: unknown, upstream: string, scrub: (text: string) => string): ProtocolError {
  if (error instanceof UpstreamError) return gatewayError(error.kind, error.message, upstream);
  if (error instanceof SdkHttpError) {
    // A 2025 upstream answers some refusals with an HTTP error status and a JSON-RPC error body: that error is relayed.
    const relayed = rpcErrorOf((error.data as { text?: unknown } | undefined)?.text);
    if (relayed) return forwardingError(relayed, upstream, scrub);
    const status = (error as { status?: unknown }).status ?? (error.data as { status?: unknown } | undefined)?.status;
    return gatewayError(
      'UpstreamUnavailable',
      `The upstream refused the request${typeof status === 'number' ? ` (HTTP ${status})` : ''}`,
      upstream,
    );
  }
  if (error instanceof SdkError) {
    if (error.code === SdkErrorCode.RequestTimeout) return gatewayError('UpstreamTimeout', 'The upstream did not answer in time', upstream);
    if (error.code === SdkErrorCode.ConnectionClosed || error.code === SdkErrorCode.NotConnected)
      return gatewayError('UpstreamUnavailable', 'The upstream connection closed', upstream);
    return gatewayError('UpstreamBadResponse', 'The upstream answer could not be used', upstream);
  }
  if (error instanceof ProtocolError) {
    const message = scrub(String(error.message).slice(0, MAX_MESSAGE));
    let data: unknown;
    if (error.data !== undefined) {
      const json = JSON.stringify(error.data);
      if (json !== undefined && json.length <= MAX_DATA && scrub(json) === json) data = error.data;
    }
    return new ProtocolError(error.code, message, data);
  }
  if (isTooLarge(error)) return gatewayError('UpstreamBadResponse', 'The upstream answer exceeds the size limit', upstream);
  return gatewayError('UpstreamBadResponse', 'The upstream answer could not be used', upstream);
}

/** The JSON-RPC error in an HTTP error body, if it holds one. */
function rpcErrorOf(body: unknown): ProtocolError | undefined {
  if (typeof body !== 'string' || body.length > 64 * 1024) return undefined;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown; data?: unknown } };
    const { code, message, data } = parsed.error ?? {};
    if (typeof code !== 'number' || !Number.isInteger(code) || typeof message !== 'string') return undefined;
    return new ProtocolError(code, message, data);
  } catch {
    return undefined;
  }
}

function isTooLarge(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth += 1) {
    if (current.name === 'UpstreamTooLargeError') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * A function that replaces every occurrence of the given secrets with
 * `[redacted]` in text, and in every string of a JSON value. Cheap when no
 * secret occurs: one `includes` per secret on the serialised value.
 */
export function createScrubber(secrets: readonly string[]): { text(value: string): string; value<T>(value: T): T } {
  const needles = secrets.filter((secret) => secret.length >= 4);
  const text = (value: string): string => {
    let out = value;
    for (const needle of needles) if (out.includes(needle)) out = out.split(needle).join('[redacted]');
    return out;
  };
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return text(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[text(key)] = walk(item);
      return out;
    }
    return value;
  };
  return {
    text,
    value<T>(value: T): T {
      if (needles.length === 0) return value;
      const json = JSON.stringify(value);
      if (json === undefined || !needles.some((needle) => json.includes(needle) || json.includes(JSON.stringify(needle).slice(1, -1))))
        return value;
      return walk(value) as T;
    },
  };
}
