import type { RequestHandler } from 'express';
import type { Logger } from '../logging/logger.js';
import { requestActor } from './context.js';

/** Options of {@link createRequestLog}. */
export interface RequestLogOptions {
  logger: Logger;
}

/**
 * One operational log line per answered request at level `http`: request id,
 * method, route label, status and duration, and on the MCP endpoint the MCP
 * method and its target (tool, prompt, resource URI) from the verified body.
 * Never the URL's query, a header or a body. Costs nothing when the logger's
 * level is above `http`.
 *
 * @example app.use(createRequestId(), createRequestLog({ logger }));
 */
export function createRequestLog(options: RequestLogOptions): RequestHandler {
  const { logger } = options;
  if (!logger.isLevelEnabled('http')) return (_req, _res, next) => next();
  return function requestLog(req, res, next) {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const { context } = requestActor(req);
      logger.http('request', {
        requestId: req.guard?.requestId,
        method: req.method,
        route: req.guard?.route ?? 'other',
        ...(context.mcpMethod !== undefined ? { mcpMethod: context.mcpMethod } : {}),
        ...(context.mcpName !== undefined ? { mcpName: context.mcpName } : {}),
        status: res.statusCode,
        durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
      });
    });
    next();
  };
}
