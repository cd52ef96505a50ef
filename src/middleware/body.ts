import type { Request, RequestHandler } from 'express';
import contentType from 'content-type';
import getRawBody from 'raw-body';
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

// raw-body reports its failures with these `type` values.
const READ_ERRORS: Record<string, [ErrorCode, string]> = {
  'entity.too.large': [ErrorCode.PayloadTooLarge, 'Request body too large'],
  'request.size.invalid': [ErrorCode.InvalidRequest, 'Request size did not match Content-Length'],
  'request.aborted': [ErrorCode.InvalidRequest, 'Request aborted'],
  'encoding.unsupported': [ErrorCode.UnsupportedMediaType, 'Unsupported charset'],
};

/** The refusal of a request whose body is not plain UTF-8 JSON; undefined when it is. */
function mediaProblem(req: Request): GuardError | undefined {
  const type = req.headers['content-type'];
  let parsed: ReturnType<typeof contentType.parse>;
  try {
    parsed = contentType.parse(type ?? '');
  } catch {
    return new GuardError(ErrorCode.UnsupportedMediaType, 'Content-Type must be application/json');
  }
  if (parsed.type !== 'application/json') return new GuardError(ErrorCode.UnsupportedMediaType, 'Content-Type must be application/json');
  const charset = parsed.parameters.charset?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
    return new GuardError(ErrorCode.UnsupportedMediaType, 'Unsupported charset');
  // Compressed bodies are refused: none of the MCP clients sends one, and a small one can inflate a lot.
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity')
    return new GuardError(ErrorCode.UnsupportedMediaType, 'Unsupported content encoding');
  return undefined;
}

/**
 * Parses JSON bodies of POST requests with a size limit: 415 for any other
 * content type, charset or a compressed body, 413 past the limit (without
 * reading further than the limit), 400 (JSON-RPC parse error) for invalid
 * JSON, 400 for something that is not a JSON-RPC message or a batch within
 * `maxBatch`. Other methods pass through untouched.
 *
 * @example router.use(createBodyParser({ limitBytes: 512 * 1024 }));
 */
export function createBodyParser(options: BodyParserOptions = {}): RequestHandler {
  const { limitBytes = 1024 * 1024, maxBatch = 100 } = parseOptions('createBodyParser', optionsSchema, options);
  return function bodyParser(req, _res, next) {
    if (req.method !== 'POST') return next();
    const refused = mediaProblem(req);
    if (refused) return next(refused);
    const length = req.headers['content-length'];
    getRawBody(req, { limit: limitBytes, length: length === undefined ? null : length, encoding: 'utf8' }, (error, text) => {
      if (error) {
        const [code, message] = READ_ERRORS[(error as { type?: string }).type ?? ''] ?? [ErrorCode.InvalidRequest, 'Invalid request body'];
        return next(new GuardError(code, message));
      }
      // Strict: a JSON-RPC body is an object or an array, nothing else.
      const first = text.trimStart()[0];
      let body: unknown;
      try {
        if (first !== '{' && first !== '[') throw new SyntaxError('not an object or array');
        body = JSON.parse(text);
      } catch {
        return next(new GuardError(ErrorCode.ParseError, 'Parse error: invalid JSON'));
      }
      req.body = body;
      const problem = checkJsonRpcShape(body, maxBatch);
      return next(problem ? new GuardError(ErrorCode.InvalidRequest, `Invalid request: ${problem}`) : undefined);
    });
  };
}
