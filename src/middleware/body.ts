import { AsyncResource } from 'node:async_hooks';
import type { Request, RequestHandler } from 'express';
import contentType from 'content-type';
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

/**
 * Reads a request's body as UTF-8 text, at most `limit` bytes: 413 when the
 * declared length is past it (nothing is read) or the bytes received go past
 * it (reading stops there), 400 when the body is shorter or longer than its
 * `Content-Length`, was cut off, or was already read. `done` is called once,
 * in the async context of the call (as for raw-body, which this replaces on
 * the hot path: its streaming decoder and five listeners cost more than the
 * rest of the parser).
 */
function readUtf8(req: Request, limit: number, done: (error: GuardError | undefined, text?: string) => void): void {
  const resource = new AsyncResource('mcp-guard.body');
  const declared = req.headers['content-length'];
  const expected = declared === undefined ? undefined : Number(declared);
  let finished = false;
  const finish = (error: GuardError | undefined, text?: string) => {
    if (finished) return;
    finished = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onFailure);
    req.off('close', onFailure);
    if (error) req.pause();
    resource.runInAsyncScope(done, undefined, error, text);
    resource.emitDestroy();
  };
  const chunks: Buffer[] = [];
  let received = 0;
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received > limit) return finish(new GuardError(ErrorCode.PayloadTooLarge, 'Request body too large'));
    chunks.push(chunk);
  };
  const onEnd = () => {
    if (expected !== undefined && received !== expected)
      return finish(new GuardError(ErrorCode.InvalidRequest, 'Request size did not match Content-Length'));
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
    // A byte-order mark is not part of the JSON text (raw-body's decoder dropped it too).
    const text = bytes.toString('utf8');
    finish(undefined, text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  };
  // An error, or the connection closing before the end: the body is incomplete.
  const onFailure = () => finish(new GuardError(ErrorCode.InvalidRequest, 'Request aborted'));

  if (expected !== undefined && !(expected >= 0)) return finish(new GuardError(ErrorCode.InvalidRequest, 'Invalid request body'));
  if (expected !== undefined && expected > limit) return finish(new GuardError(ErrorCode.PayloadTooLarge, 'Request body too large'));
  if (req.readableEnded || !req.readable) return finish(new GuardError(ErrorCode.InvalidRequest, 'Invalid request body'));
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onFailure);
  req.on('close', onFailure);
}

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
    readUtf8(req, limitBytes, (error, text = '') => {
      if (error) return next(error);
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
