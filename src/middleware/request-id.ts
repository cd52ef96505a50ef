import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import { parseOptions } from '../core/options.js';

const optionsSchema = z.strictObject({
  header: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/)
    .optional(),
  trustIncoming: z.boolean().optional(),
});

/** Options of {@link createRequestId}. */
export interface RequestIdOptions {
  /** Header read and echoed. Default `X-Request-ID`. */
  header?: string;
  /** Reuse a well-formed incoming id (1-128 of `A-Za-z0-9._:-`). Default `true`. */
  trustIncoming?: boolean;
}

const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id (`req.guard.requestId`) and echoes it in the
 * response header. An incoming id is reused only when well-formed, so a client
 * cannot inject log lines or huge values through it.
 *
 * @example app.use(createRequestId());
 */
export function createRequestId(options: RequestIdOptions = {}): RequestHandler {
  const { header = 'X-Request-ID', trustIncoming = true } = parseOptions('createRequestId', optionsSchema, options);
  const lower = header.toLowerCase();
  return function requestId(req: Request, res, next) {
    const incoming = trustIncoming ? req.headers[lower] : undefined;
    const id = typeof incoming === 'string' && WELL_FORMED.test(incoming) ? incoming : randomUUID();
    req.guard = { ...req.guard, requestId: id, startedAt: req.guard?.startedAt ?? process.hrtime.bigint() };
    // Handlers further in (the MCP server's tool hooks) read the id from the request itself.
    req.headers[lower] = id;
    res.setHeader(header, id);
    next();
  };
}
