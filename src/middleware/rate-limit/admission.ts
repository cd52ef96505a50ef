import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { AuditLogger } from '../../audit/types.js';
import type { GuardError } from '../../errors/guard-error.js';
import type { Logger } from '../../logging/logger.js';
import type { GuardMetrics } from '../../metrics/guard-metrics.js';
import { admitOn, type AdmitOp, type AdmitResult, type StateStore } from '../../stores/types.js';
import { guardState } from '../context.js';
import { bucketRefusal, bucketSpec, calledTools, storeFailure, type BucketLimit } from './bucket.js';
import { ipLimitRefusal } from './ip.js';
import { createOverLimitMemo } from './over-limit.js';

/** Options of {@link createAdmission}: the limits it counts together, all in one store. */
export interface AdmissionOptions {
  store: StateStore;
  /** The per-IP limit, counted under `prefix` plus the client's address key (as the express-rate-limit adapter does). */
  ip?: { limit: number; windowMs: number; prefix: string } | undefined;
  global?: BucketLimit | undefined;
  principal?: BucketLimit | undefined;
  /** The per-tool limit of a 2026-07-28 `tools/call` named by its routing headers. */
  tool?: { defaultLimit?: BucketLimit | undefined; tools: Record<string, BucketLimit> } | undefined;
  audit: AuditLogger;
  metrics?: GuardMetrics | undefined;
  logger?: Logger | undefined;
}

/** The limits of one request in one call of {@link StateStore.admit}, for the composed stack. */
export interface Admission {
  /**
   * Wraps authentication: a request it refuses (401, 403, a lock, 503) is still counted against the
   * per-IP and global limits before it is answered, and their 429 wins, as when they ran first. A
   * client this process already saw past its per-IP limit is refused before authentication.
   */
  authenticated(authenticate: RequestHandler): RequestHandler;
  /**
   * After authentication and the early decision from routing headers: every limit of the request at
   * once. A POST without routing headers, whose tools are known only from its body, is left pending
   * for {@link Admission.afterBody} when a per-tool limit is set.
   */
  admit: RequestHandler;
  /** After the final authorization: the pending limits and the per-tool limit of each call in the body, at once. */
  afterBody: RequestHandler;
  /**
   * Before an error is answered: a request still pending is counted (per IP, global, per principal),
   * and a refusal of those wins, as when they ran before the body. Resolves to the error to answer.
   */
  settle(req: Request, error: unknown): Promise<unknown>;
}

interface Planned {
  op: AdmitOp;
  refuse(result: AdmitResult): Promise<GuardError>;
  scope: 'ip' | 'global' | 'principal' | 'tool';
}

/**
 * Counts every rate limit of a request together: per IP, global, per principal and, for a 2026-07-28
 * `tools/call`, per tool, in one {@link StateStore.admit} (one round trip on Redis). The operations
 * run in the order the separate limits run in, and stop at the first refusal, whose 429, audit event
 * and metric are those of that limit's own middleware. A store that fails even after its fallback
 * refuses with 503 (fail closed). Internal to the composed chain of `createSecurityStack`; the
 * separate limits stay for apps that mount them one by one.
 */
export function createAdmission(options: AdmissionOptions): Admission {
  const { store, ip, global, principal, tool, audit, metrics, logger } = options;
  const common = { audit, metrics, logger };

  const overLimit = createOverLimitMemo();
  const ipKey = (req: Request): string => `${ip?.prefix}${ipKeyGenerator(req.ip as string)}`;
  const knownOverMs = (req: Request): number => (ip ? overLimit.leftMs(ipKey(req)) : 0);

  const preAuth = (req: Request, planned: Planned[]): void => {
    if (ip) {
      const key = ipKey(req);
      planned.push({
        op: { kind: 'counter', key, windowMs: ip.windowMs, limit: ip.limit },
        refuse: (result) => {
          const resetMs = result.kind === 'counter' ? result.resetMs : 0;
          overLimit.remember(key, resetMs);
          return ipLimitRefusal(req, { limit: ip.limit, audit, metrics }, resetMs);
        },
        scope: 'ip',
      });
    }
    if (global) planned.push(bucketOp(req, 'global', 'rl:global', global));
  };
  const bucketOp = (req: Request, scope: 'global' | 'principal' | 'tool', key: string, limit: BucketLimit, name = ''): Planned => ({
    op: { kind: 'bucket', key, spec: bucketSpec(limit) },
    refuse: (result) => bucketRefusal(req, common, scope, limit, result.kind === 'bucket' ? result.retryAfterMs : 0, name),
    scope,
  });

  /** Runs the planned operations; undefined when every one allowed, else the refusal (and whether it is the tool's). */
  const run = async (planned: Planned[]): Promise<{ error: GuardError; tool: boolean } | undefined> => {
    if (planned.length === 0) return undefined;
    let results: AdmitResult[];
    try {
      results = await admitOn(
        store,
        planned.map((entry) => entry.op),
      );
    } catch (error) {
      return { error: storeFailure(common, 'admission', error), tool: false };
    }
    const last = results[results.length - 1];
    if (!last || last.allowed) return undefined;
    const entry = planned[results.length - 1]!;
    return { error: await entry.refuse(last), tool: entry.scope === 'tool' };
  };

  // Every limit of a request but its tools', in the order the separate limits run in.
  const beforeTools = (req: Request): Planned[] => {
    const planned: Planned[] = [];
    preAuth(req, planned);
    const id = req.guard?.principal?.id;
    if (principal && id !== undefined) planned.push(bucketOp(req, 'principal', `rl:principal:${id}`, principal));
    return planned;
  };
  const toolOp = (req: Request, id: string, name: string): Planned | undefined => {
    const limit = tool && (Object.hasOwn(tool.tools, name) ? tool.tools[name] : tool.defaultLimit);
    return limit ? bucketOp(req, 'tool', `rl:tool:${id}:${name}`, limit, name.slice(0, 128)) : undefined;
  };
  // Requests whose limits wait for their body (counted exactly once: by afterBody or by settle).
  const pending = new WeakSet<Request>();

  return {
    authenticated(authenticate) {
      // Every path ends in `next`: a refusal that fails to be built still refuses (fail closed), never hangs.
      return function admittedAuthenticate(req, res, next) {
        const overMs = knownOverMs(req);
        if (overMs > 0 && ip) return ipLimitRefusal(req, { limit: ip.limit, audit, metrics }, overMs).then(next, next);
        return authenticate(req, res, (error?: unknown) => {
          if (error === undefined || error === null) return next();
          const planned: Planned[] = [];
          preAuth(req, planned);
          run(planned).then(
            (refusal) => next(refusal ? refusal.error : error),
            () => next(error),
          );
        });
      };
    },
    admit: async function admission(req, _res, next) {
      const guard = guardState(req);
      const id = guard.principal?.id;
      const routing = guard.routing;
      // Its tools are named in its body only: everything is counted together once the body is known.
      if (tool && id !== undefined && req.method === 'POST' && !routing && !guard.toolLimitTaken) {
        pending.add(req);
        return next();
      }
      const planned = beforeTools(req);
      // As the per-tool limit does before the body: a call its routing headers name, not refused early.
      if (
        tool &&
        id !== undefined &&
        req.method === 'POST' &&
        !guard.toolLimitTaken &&
        !guard.earlyRefusal &&
        !guard.mcp &&
        routing?.method === 'tools/call' &&
        routing.name !== undefined
      ) {
        guard.toolLimitTaken = true;
        const op = toolOp(req, id, routing.name);
        if (op) planned.push(op);
      }
      const refusal = await run(planned);
      if (!refusal) return next();
      // A tool refused before the body waits for it, to carry the request's id (see createToolRateLimit).
      if (refusal.tool) {
        guard.earlyRefusal = { error: refusal.error };
        return next();
      }
      next(refusal.error);
    },
    afterBody: async function admissionAfterBody(req, _res, next) {
      if (!pending.delete(req)) return next();
      const guard = guardState(req);
      const planned = beforeTools(req);
      const id = guard.principal?.id;
      if (id !== undefined && !guard.toolLimitTaken) {
        guard.toolLimitTaken = true;
        for (const name of calledTools(req.body)) {
          const op = toolOp(req, id, name);
          if (op) planned.push(op);
        }
      }
      const refusal = await run(planned);
      next(refusal?.error);
    },
    async settle(req, error) {
      if (!pending.delete(req)) return error;
      const refusal = await run(beforeTools(req));
      return refusal ? refusal.error : error;
    },
  };
}
