import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { z } from 'zod';
import { fn, parseOptions, service } from '../core/options.js';
import { ErrorCode } from '../errors/codes.js';
import { GuardError, isGuardError } from '../errors/guard-error.js';
import { writeError, type ChallengeBuilder, type ErrorFormat } from '../errors/respond.js';
import { describeError } from '../logging/redact.js';
import type { Logger } from '../logging/logger.js';

const optionsSchema = z.strictObject({
  format: z.enum(['json-rpc', 'json']).optional(),
  challenge: fn<ChallengeBuilder>().optional(),
  logger: service<Logger>().optional(),
});

/** Options of {@link createErrorHandler}. */
export interface ErrorHandlerOptions {
  /** `json-rpc` (the MCP endpoint) or `json`. Default `json-rpc`. */
  format?: ErrorFormat;
  /** Builds `WWW-Authenticate` for 401/403. Default: a bare RFC 6750 challenge. */
  challenge?: ChallengeBuilder;
  logger?: Logger;
}

// Statuses that Express and body-parser set on their own errors.
const STATUS_CODES: Record<number, ErrorCode> = {
  400: ErrorCode.InvalidRequest,
  404: ErrorCode.NotFound,
  405: ErrorCode.MethodNotAllowed,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
};

/** Turns anything thrown into a GuardError whose message is safe to send. */
export function toGuardError(error: unknown): GuardError {
  if (isGuardError(error)) return error;
  const status = (error as { status?: unknown; statusCode?: unknown })?.status ?? (error as { statusCode?: unknown })?.statusCode;
  const code = typeof status === 'number' ? STATUS_CODES[status] : undefined;
  return code ? new GuardError(code, 'Invalid request') : new GuardError(ErrorCode.Internal, 'Internal server error');
}

/**
 * The last handler of the stack: answers every error with the stable error
 * shape (JSON-RPC on the MCP endpoint, `{ error: { code, message } }`
 * elsewhere). Unexpected errors are logged without stack or secrets and
 * answered with a bare 500.
 */
export function createErrorHandler(options: ErrorHandlerOptions = {}): ErrorRequestHandler {
  const { format = 'json-rpc', challenge, logger } = parseOptions('createErrorHandler', optionsSchema, options);
  return function errorHandler(error: unknown, req: Request, res, _next) {
    const guardError = toGuardError(error);
    if (guardError.code === ErrorCode.Internal) {
      logger?.error('unhandled error', { requestId: req.guard?.requestId, error: describeError(error) });
    }
    writeError(req, res, guardError, { format, ...(challenge ? { challenge } : {}) });
  };
}

/** Answers any request that reached it with 404 in the stable error shape. */
export function createNotFound(): RequestHandler {
  return function notFound(_req, _res, next) {
    next(new GuardError(ErrorCode.NotFound, 'Not found'));
  };
}
