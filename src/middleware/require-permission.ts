import type { RequestHandler } from 'express';
import { hasPermission } from '../core/permissions.js';
import { ErrorCode } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';

/**
 * Gate for an app's own routes: lets the request through only when the
 * authenticated principal holds `permission`; 401 when unauthenticated, 403
 * (`insufficient_scope`) otherwise. Mount it after the authentication middleware.
 *
 * @example app.get('/audit', authenticate, requirePermission('audit:read'), handler);
 */
export function requirePermission(permission: string): RequestHandler {
  if (typeof permission !== 'string' || permission.length === 0)
    throw new TypeError('requirePermission: permission must be a non-empty string');
  return function permissionGate(req, _res, next) {
    const principal = req.guard?.principal;
    if (!principal) return next(new GuardError(ErrorCode.Unauthenticated, 'Authentication required'));
    if (hasPermission(principal.permissions, permission)) return next();
    return next(new GuardError(ErrorCode.InsufficientScope, `Permission ${permission} is required`, { scope: permission }));
  };
}
