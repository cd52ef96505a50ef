import express, { type RequestHandler } from 'express';
import { z } from 'zod';
import { parseOptions } from '../core/options.js';
import { ErrorCode } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';

const optionsSchema = z.strictObject({
  limitBytes: z.number().int().positive().optional(),
  maxBatch: z.number().int().positive().optional(),
});

/** Options of {@link createBodyParser}. */
export interface BodyParserOptions {
  /** Largest accepted body, in bytes. Default 1 MiB. */
  limitBytes?: number;
  /** Most messages accepted in one JSON-RPC batch. Default 100. */
  maxBatch?: number;
}

/** Shape check of a parsed JSON-RPC body; the error message, or undefined when acceptable. */
export function checkJsonRpcShape(body: unknown, maxBatch: number): string | undefined {
  if (Array.isArray(body)) {
    if (body.length === 0) return 'Empty batch';
    if (body.length > maxBatch) return `Batch too large (at most ${maxBatch} messages)`;
    return body.every((message) => message !== null && typeof message === 'object' && !Array.isArray(message))
      ? undefined
      : 'Batch entries must be JSON-RPC objects';
  }
  return body !== null && typeof body === 'object' ? undefined : 'Body must be a JSON-RPC object or batch';
}

// body-parser reports its failures with these `type` values.
const PARSER_ERRORS: Record<string, [ErrorCode, string]> = {
  'entity.too.large': [ErrorCode.PayloadTooLarge, 'Request body too large'],
  'entity.parse.failed': [ErrorCode.ParseError, 'Parse error: invalid JSON'],
  'encoding.unsupported': [ErrorCode.UnsupportedMediaType, 'Unsupported content encoding'],
  'charset.unsupported': [ErrorCode.UnsupportedMediaType, 'Unsupported charset'],
  'request.size.invalid': [ErrorCode.InvalidRequest, 'Request size did not match Content-Length'],
  'request.aborted': [ErrorCode.InvalidRequest, 'Request aborted'],
  'stream.encoding.set': [ErrorCode.Internal, 'Internal error'],
};

/**
 * Parses JSON bodies of POST requests with a size limit: 415 for any other
 * content type, 413 past the limit, 400 (JSON-RPC parse error) for invalid
 * JSON, 400 for something that is not a JSON-RPC message or a batch within
 * `maxBatch`. Other methods pass through untouched.
 *
 * @example router.use(createBodyParser({ limitBytes: 512 * 1024 }));
 */
export function createBodyParser(options: BodyParserOptions = {}): RequestHandler {
  const { limitBytes = 1024 * 1024, maxBatch = 100 } = parseOptions('createBodyParser', optionsSchema, options);
  const json = express.json({ limit: limitBytes, strict: true, type: () => true });
  return function bodyParser(req, res, next) {
    if (req.method !== 'POST') return next();
    if (!req.is('application/json')) {
      return next(new GuardError(ErrorCode.UnsupportedMediaType, 'Content-Type must be application/json'));
    }
    json(req, res, (error?: unknown) => {
      if (error) {
        const type = (error as { type?: string }).type ?? '';
        const [code, message] = PARSER_ERRORS[type] ?? [ErrorCode.InvalidRequest, 'Invalid request body'];
        return next(new GuardError(code, message));
      }
      const problem = checkJsonRpcShape(req.body, maxBatch);
      return next(problem ? new GuardError(ErrorCode.InvalidRequest, `Invalid request: ${problem}`) : undefined);
    });
  };
}
