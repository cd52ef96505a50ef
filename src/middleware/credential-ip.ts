import { BlockList } from 'node:net';
import { addressAllowed, compileCidrs } from '../core/cidr.js';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { AuditLogger } from '../audit/types.js';
import { parseOptions, service } from '../core/options.js';
import type { Principal } from '../core/principal.js';
import { ErrorCode } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { requestActor } from './context.js';

const optionsSchema = z.strictObject({
  audit: service<AuditLogger>(),
  metrics: service<GuardMetrics>().optional(),
});

/** Options of {@link createCredentialIpCheck}. */
export interface CredentialIpCheckOptions {
  audit: AuditLogger;
  metrics?: GuardMetrics;
}

/**
 * After authentication: a credential restricted to client addresses (a CIDR
 * list on an API key or in a token claim) is refused from anywhere else with
 * 403, an audit event and a metric. Principals without a list pass.
 *
 * @example router.use(authenticate, createCredentialIpCheck({ audit }));
 */
export function createCredentialIpCheck(options: CredentialIpCheckOptions): RequestHandler {
  const { audit, metrics } = parseOptions('createCredentialIpCheck', optionsSchema, options);
  // Static principals are long-lived objects: compile each list once.
  const lists = new WeakMap<Principal, BlockList>();

  return async function credentialIpCheck(req, _res, next) {
    const principal = req.guard?.principal;
    if (!principal?.allowedCidrs?.length) return next();
    let list = lists.get(principal);
    if (!list) {
      try {
        list = compileCidrs(principal.allowedCidrs);
      } catch {
        list = new BlockList(); // an unusable list allows nothing (fail closed)
      }
      lists.set(principal, list);
    }
    if (addressAllowed(list, req.ip)) return next();
    metrics?.authzDenials.inc({ method: 'ip', tool: '', permission: 'ip_allowlist' });
    try {
      const { actor, context } = requestActor(req);
      await audit.record({
        type: 'authz.denied',
        action: `${req.method} ${req.baseUrl}${req.path}`.slice(0, 256),
        actor,
        context,
        outcome: { status: 'denied', code: ErrorCode.Forbidden },
        details: { reason: 'ip_not_allowed' },
      });
    } catch {
      return next(new GuardError(ErrorCode.Unavailable, 'The request cannot be recorded and was refused'));
    }
    return next(new GuardError(ErrorCode.Forbidden, 'This credential may not be used from this address'));
  };
}
