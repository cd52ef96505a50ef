import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { AuditLogger } from '../audit/types.js';
import { parseOptions, service } from '../core/options.js';
import { hasPermission, Permission } from '../core/permissions.js';
import { ErrorCode } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { requestActor } from './context.js';

const optionsSchema = z.strictObject({
  tools: z.record(z.string(), z.string()),
  prompts: z.record(z.string(), z.string()).optional(),
  audit: service<AuditLogger>(),
  metrics: service<GuardMetrics>().optional(),
});

/** Options of {@link createAuthorize}. */
export interface AuthorizeOptions {
  /** Tool name to the permission it requires. A tool not listed cannot be called. */
  tools: Record<string, string>;
  /** Prompt name to the permission it requires, beyond `prompts:get`. Default none. */
  prompts?: Record<string, string>;
  audit: AuditLogger;
  metrics?: GuardMetrics;
}

/** The permission an MCP message needs: a string, null for none, or `undeclared` to deny. */
export type Requirement = { permission: string | null; tool?: string } | { undeclared: true; tool?: string };

/** Methods any authenticated principal may send. */
const OPEN_METHODS = new Set(['initialize', 'ping', 'logging/setLevel']);

const METHOD_PERMISSIONS: Record<string, string> = {
  'tools/list': Permission.ToolsList,
  'resources/list': Permission.ResourcesList,
  'resources/templates/list': Permission.ResourcesList,
  'resources/read': Permission.ResourcesRead,
  'resources/subscribe': Permission.ResourcesRead,
  'resources/unsubscribe': Permission.ResourcesRead,
  'prompts/list': Permission.PromptsList,
  'prompts/get': Permission.PromptsGet,
};

/** The policy of {@link requirementOf}. */
export interface AuthorizationPolicy {
  tools: ReadonlyMap<string, string>;
  prompts: ReadonlyMap<string, string>;
}

/**
 * What one JSON-RPC message needs, as a pure function. Responses and
 * notifications need nothing; a tool call needs the tool's own permission; an
 * unknown method or undeclared tool is denied.
 */
export function requirementOf(message: unknown, policy: AuthorizationPolicy): Requirement {
  const { method, params } = (message ?? {}) as { method?: unknown; params?: { name?: unknown; ref?: { type?: unknown } } };
  if (typeof method !== 'string') return { permission: null }; // a response to a server request
  if (method.startsWith('notifications/') || OPEN_METHODS.has(method)) return { permission: null };
  if (method === 'tools/call') {
    const tool = typeof params?.name === 'string' ? params.name : undefined;
    const permission = tool === undefined ? undefined : policy.tools.get(tool);
    return permission === undefined ? { undeclared: true, ...(tool ? { tool } : {}) } : { permission, tool: tool! };
  }
  if (method === 'prompts/get' && typeof params?.name === 'string') {
    return { permission: policy.prompts.get(params.name) ?? Permission.PromptsGet };
  }
  if (method === 'completion/complete') {
    return { permission: params?.ref?.type === 'ref/prompt' ? Permission.PromptsGet : Permission.ResourcesRead };
  }
  const permission = METHOD_PERMISSIONS[method];
  return permission === undefined ? { undeclared: true } : { permission };
}

/**
 * Checks every JSON-RPC message of a request against the principal's
 * permissions before the MCP server sees it. A refusal is 403 with a JSON-RPC
 * error (and a `scope` challenge naming the missing permission), an audit
 * event and a metric; the tool never runs.
 *
 * @example router.use(createAuthorize({ tools: { echo: 'tools:call' }, audit }));
 */
export function createAuthorize(options: AuthorizeOptions): RequestHandler {
  const { tools, prompts = {}, audit, metrics } = parseOptions('createAuthorize', optionsSchema, options);
  const policy: AuthorizationPolicy = { tools: new Map(Object.entries(tools)), prompts: new Map(Object.entries(prompts)) };

  return async function authorize(req, _res, next) {
    if (req.method !== 'POST') return next();
    const principal = req.guard?.principal;
    if (!principal) return next(new GuardError(ErrorCode.Unauthenticated, 'Authentication required'));
    const messages: unknown[] = Array.isArray(req.body) ? req.body : [req.body];
    for (const message of messages) {
      const requirement = requirementOf(message, policy);
      const permission = 'undeclared' in requirement ? undefined : requirement.permission;
      if (permission === null || (permission !== undefined && hasPermission(principal.permissions, permission))) continue;
      const method = String((message as { method?: unknown }).method ?? '').slice(0, 64);
      const tool = requirement.tool?.slice(0, 128);
      metrics?.authzDenials.inc({
        method,
        tool: tool && tools[tool] ? tool : tool ? 'undeclared' : '',
        permission: permission ?? 'undeclared',
      });
      try {
        const { actor, context } = requestActor(req);
        await audit.record({
          type: 'authz.denied',
          action: `${method}${tool ? ` ${tool}` : ''}`,
          actor,
          context,
          outcome: { status: 'denied', code: permission ? ErrorCode.InsufficientScope : ErrorCode.Forbidden },
          details: { missingPermission: permission ?? 'undeclared', ...(tool ? { tool } : {}) },
        });
      } catch {
        return next(new GuardError(ErrorCode.Unavailable, 'The request cannot be recorded and was refused'));
      }
      return next(
        permission
          ? new GuardError(ErrorCode.InsufficientScope, `Permission ${permission} is required`, { scope: permission })
          : new GuardError(ErrorCode.Forbidden, 'This request is not allowed'),
      );
    }
    return next();
  };
}
