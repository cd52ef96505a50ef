import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Runs `handlers` in order as one handler, and `onError` for the first error
 * one of them passes on (or throws, or rejects with). Every handler keeps the
 * Express contract (`next()` to go on, `next(error)` to stop); what the
 * composition saves is the router's work per layer (path matching, layer
 * bookkeeping, a deferred call between layers), which on the MCP endpoint's
 * fifteen-odd layers costs more than most of them do themselves. After the
 * last handler, `done()` continues with whatever follows the composition.
 *
 * @example router.use(composeMiddleware([requestId, headers, cors, authenticate], rpcErrorHandler));
 */
export function composeMiddleware(handlers: readonly RequestHandler[], onError: ErrorRequestHandler): RequestHandler {
  const chain = [...handlers];
  return function composed(req: Request, res: Response, done: NextFunction) {
    let index = 0;
    let failed = false;
    const fail = (error: unknown): void => {
      if (failed) return;
      failed = true;
      onError(error, req, res, done);
    };
    const next = (error?: unknown): void => {
      if (failed) return;
      if (error !== undefined && error !== null && error !== 'route' && error !== 'router') return fail(error);
      const handler = chain[index++];
      if (!handler) return done();
      try {
        const result = handler(req, res, next) as unknown;
        if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(undefined, fail);
      } catch (thrown) {
        fail(thrown);
      }
    };
    next();
  };
}
