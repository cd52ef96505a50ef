import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { fn, parseOptions } from '../core/options.js';
import { codeForRpc, ErrorCode } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';
import { guardState, type McpRequestInfo } from './context.js';

/** What a classifier answers for one MCP request (see `classifyMcpRequest` in `src/mcp/era.ts`). */
export type McpClassifier = (request: {
  method: string;
  headers: IncomingHttpHeaders;
  body?: unknown;
}) => { ok: true; facts: McpRequestInfo } | { ok: false; rejection: { status: number; rpcCode: number; message: string; data?: unknown } };

/** Reads what a 2026-07-28 request's routing headers claim, before its body is parsed. */
export type RoutingHeaderReader = (headers: IncomingHttpHeaders) => { method: string; name?: string } | undefined;

const routingSchema = z.strictObject({ read: fn<RoutingHeaderReader>() });

/** Options of {@link createRoutingHeaders}. */
export interface RoutingHeadersOptions {
  read: RoutingHeaderReader;
}

/**
 * Records what a 2026-07-28 request's `Mcp-Method` and `Mcp-Name` headers
 * claim (`req.guard.routing`), so that authorization and the per-tool limit
 * can refuse before the body is parsed. Nothing is ever allowed on these
 * claims: the body decides, once verified against them.
 *
 * @example router.use(authenticate, createRoutingHeaders({ read: routingHeadersOf }), authorize);
 */
export function createRoutingHeaders(options: RoutingHeadersOptions): RequestHandler {
  const { read } = parseOptions('createRoutingHeaders', routingSchema, options);
  return function routingHeaders(req, _res, next) {
    if (req.method === 'POST') {
      const routing = read(req.headers);
      if (routing) guardState(req).routing = routing;
    }
    next();
  };
}

const checkSchema = z.strictObject({ classify: fn<McpClassifier>() });

/** Options of {@link createMcpRequestCheck}. */
export interface McpRequestCheckOptions {
  classify: McpClassifier;
}

/**
 * After the body is parsed: classifies the request into its protocol era and
 * verifies a 2026-07-28 request's routing headers against its body, before
 * any decision is taken on the body. What the protocol refuses (a malformed
 * envelope, an unsupported version, a header that disagrees with the body)
 * is answered with the protocol's own status and JSON-RPC code; otherwise
 * `req.guard.mcp` holds the verified method and target, and a refusal decided
 * earlier from the routing headers is answered now, with the request's id.
 *
 * @example router.use(bodyParser, createMcpRequestCheck({ classify: classifyOnce }), authorize);
 */
export function createMcpRequestCheck(options: McpRequestCheckOptions): RequestHandler {
  const { classify } = parseOptions('createMcpRequestCheck', checkSchema, options);
  return function mcpRequestCheck(req, _res, next) {
    const result = classify(req);
    if (!result.ok) {
      const { rpcCode, message, data } = result.rejection;
      const details = data !== null && typeof data === 'object' && !Array.isArray(data) ? { data: data as Record<string, unknown> } : {};
      return next(new GuardError(codeForRpc(rpcCode), message, details));
    }
    const guard = guardState(req);
    guard.mcp = result.facts;
    // A refusal decided from the routing headers, now that the body agrees with them.
    const early = guard.earlyRefusal;
    if (!early) return next();
    void (early.record?.() ?? Promise.resolve()).then(
      () => next(early.error),
      () => next(new GuardError(ErrorCode.Unavailable, 'The request cannot be recorded and was refused')),
    );
  };
}
