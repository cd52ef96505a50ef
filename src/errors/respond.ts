import type { Request, Response } from 'express';
import { ErrorCode, rpcCodeFor } from './codes.js';
import { GuardError } from './guard-error.js';

/** How errors are written: the JSON-RPC envelope on an MCP endpoint, plain JSON elsewhere. */
export type ErrorFormat = 'json-rpc' | 'json';

/** Builds the `WWW-Authenticate` value for a 401 or 403; undefined to send none. */
export type ChallengeBuilder = (req: Request, error: GuardError) => string | undefined;

/** Options of {@link writeError}. */
export interface WriteErrorOptions {
  format: ErrorFormat;
  challenge?: ChallengeBuilder;
}

/** Escapes a value for an RFC 9110 quoted-string (auth-param) and drops control characters. */
export function quoteParam(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f-\uffff]/g, '');
  return `"${clean.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * The RFC 6750 challenge for an auth error: no `error` attribute when no
 * credential was sent (section 3.1), `invalid_token` or `insufficient_scope` otherwise.
 */
export function bearerChallenge(error: GuardError, params: Record<string, string | undefined> = {}): string {
  const parts: string[] = [];
  if (error.code === ErrorCode.InvalidToken || error.code === ErrorCode.InsufficientScope) {
    parts.push(`error=${quoteParam(error.code)}`, `error_description=${quoteParam(error.message)}`);
  }
  if (error.code === ErrorCode.InsufficientScope && error.details.scope) {
    parts.push(`scope=${quoteParam(error.details.scope)}`);
  }
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) parts.push(`${key}=${quoteParam(value)}`);
  }
  return parts.length ? `Bearer ${parts.join(', ')}` : 'Bearer';
}

/** The JSON-RPC id of the request being answered: the single message's id, else null. */
export function jsonRpcIdOf(body: unknown): string | number | null {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const id = (body as { id?: unknown }).id;
    if (typeof id === 'string' || typeof id === 'number') return id;
  }
  return null;
}

/** The JSON-RPC error object for a GuardError. */
export function jsonRpcError(error: GuardError, id: string | number | null): object {
  const data: Record<string, unknown> = { ...error.details.data, code: error.code };
  if (error.details.retryAfter !== undefined) data.retryAfter = error.details.retryAfter;
  if (error.details.scope !== undefined) data.scope = error.details.scope;
  return { jsonrpc: '2.0', id, error: { code: rpcCodeFor(error.code), message: error.message, data } };
}

const NOT_RUN = new GuardError(ErrorCode.Forbidden, 'Not run: another message of this batch was refused');

/** One JSON-RPC error per request of a refused batch (notifications get none). */
function batchErrors(messages: readonly unknown[], errors: ReadonlyArray<GuardError | null>): object[] {
  const out: object[] = [];
  messages.forEach((message, index) => {
    const id = jsonRpcIdOf(message);
    if (id === null) return;
    out.push(jsonRpcError(errors[index] ?? NOT_RUN, id));
  });
  return out;
}

/**
 * Writes `error` as the response: status, `Retry-After`, `WWW-Authenticate`
 * for 401 and insufficient-scope 403, `Cache-Control: no-store`, and a body
 * that carries the stable code and a client-safe message only.
 */
export function writeError(req: Request, res: Response, error: GuardError, options: WriteErrorOptions): void {
  if (res.headersSent) {
    // A stream was already answered: the only safe thing left is to end it.
    res.end();
    return;
  }
  res.status(error.status);
  res.setHeader('Cache-Control', 'no-store');
  if (error.details.retryAfter !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(error.details.retryAfter))));
  for (const [name, value] of Object.entries(error.details.headers ?? {})) res.setHeader(name, value);
  if (error.status === 401 || error.code === ErrorCode.InsufficientScope) {
    const challenge = options.challenge ? options.challenge(req, error) : bearerChallenge(error);
    if (challenge) res.setHeader('WWW-Authenticate', challenge);
  }
  if (options.format === 'json-rpc' && error.details.batch && Array.isArray(req.body)) {
    // JSON-RPC forbids an empty response array: a refused batch of notifications gets one error.
    const errors = batchErrors(req.body as unknown[], error.details.batch);
    res.json(errors.length ? errors : jsonRpcError(error, null));
  } else if (options.format === 'json-rpc') {
    res.json(jsonRpcError(error, jsonRpcIdOf(req.body)));
  } else {
    const body: Record<string, unknown> = { code: error.code, message: error.message };
    if (error.details.retryAfter !== undefined) body.retryAfter = error.details.retryAfter;
    res.json({ error: body });
  }
}
