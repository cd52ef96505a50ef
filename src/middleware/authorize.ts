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
  resources: z.record(z.string(), z.string()).optional(),
  audit: service<AuditLogger>(),
  metrics: service<GuardMetrics>().optional(),
});

/** Options of {@link createAuthorize}. Anything not declared is denied. */
export interface AuthorizeOptions {
  /** Tool name to the permission it requires. A tool not listed cannot be called. */
  tools: Record<string, string>;
  /** Prompt name to the permission it requires. A prompt not listed cannot be got. Default none. */
  prompts?: Record<string, string>;
  /** Resource URI, or URI template such as `file:///{path}`, to the permission it requires. Default none. */
  resources?: Record<string, string>;
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
  'prompts/list': Permission.PromptsList,
};

const RESOURCE_METHODS = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe']);

/** The policy of {@link requirementOf}, compiled once. */
export interface AuthorizationPolicy {
  tools: ReadonlyMap<string, string>;
  prompts: ReadonlyMap<string, string>;
  /** Resource URI or template to permission. */
  resources: ReadonlyMap<string, string>;
  /** Templates compiled to anchored patterns, in declaration order. */
  templates?: ReadonlyArray<{ pattern: RegExp; permission: string }>;
}

/**
 * Compiles an RFC 6570 level-1 template (`test://items/{id}/data`) to an
 * anchored pattern where each `{var}` matches one non-empty path segment.
 */
export function templatePattern(template: string): RegExp {
  const source = template
    .split(/(\{[^}]*\})/)
    .map((part) => (part.startsWith('{') ? '[^/?#]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

/** Builds the policy {@link requirementOf} reads from plain maps. */
export function compilePolicy(
  tools: Record<string, string>,
  prompts: Record<string, string> = {},
  resources: Record<string, string> = {},
): AuthorizationPolicy {
  return {
    tools: new Map(Object.entries(tools)),
    prompts: new Map(Object.entries(prompts)),
    resources: new Map(Object.entries(resources)),
    templates: Object.entries(resources)
      .filter(([uri]) => uri.includes('{'))
      .map(([uri, permission]) => ({ pattern: templatePattern(uri), permission })),
  };
}

function resourcePermission(uri: unknown, policy: AuthorizationPolicy): string | undefined {
  if (typeof uri !== 'string' || uri.length > 2048) return undefined;
  const exact = policy.resources.get(uri);
  if (exact !== undefined && !uri.includes('{')) return exact;
  return policy.templates?.find((template) => template.pattern.test(uri))?.permission;
}

/**
 * What one JSON-RPC message needs, as a pure function. Responses and
 * notifications need nothing; a tool call, prompt get or resource read needs
 * the permission declared for that tool, prompt or resource; an unknown
 * method or anything undeclared is denied.
 */
export function requirementOf(message: unknown, policy: AuthorizationPolicy): Requirement {
  const { method, params } = (message ?? {}) as {
    method?: unknown;
    params?: { name?: unknown; uri?: unknown; ref?: { type?: unknown; name?: unknown; uri?: unknown } };
  };
  if (typeof method !== 'string') return { permission: null }; // a response to a server request
  if (method.startsWith('notifications/') || OPEN_METHODS.has(method)) return { permission: null };
  if (method === 'tools/call') {
    const tool = typeof params?.name === 'string' ? params.name : undefined;
    const permission = tool === undefined ? undefined : policy.tools.get(tool);
    return permission === undefined ? { undeclared: true, ...(tool ? { tool } : {}) } : { permission, tool: tool! };
  }
  if (method === 'prompts/get') {
    const permission = typeof params?.name === 'string' ? policy.prompts.get(params.name) : undefined;
    return permission === undefined ? { undeclared: true } : { permission };
  }
  if (RESOURCE_METHODS.has(method)) {
    const permission = resourcePermission(params?.uri, policy);
    return permission === undefined ? { undeclared: true } : { permission };
  }
  if (method === 'completion/complete') {
    const ref = params?.ref;
    const permission =
      ref?.type === 'ref/prompt'
        ? typeof ref.name === 'string'
          ? policy.prompts.get(ref.name)
          : undefined
        : ref?.type === 'ref/resource' && typeof ref.uri === 'string'
          ? policy.resources.get(ref.uri)
          : undefined;
    return permission === undefined ? { undeclared: true } : { permission };
  }
  // Own keys only: `toString` or `__proto__` as a method must not find Object.prototype.
  const permission = Object.hasOwn(METHOD_PERMISSIONS, method) ? METHOD_PERMISSIONS[method] : undefined;
  return permission === undefined ? { undeclared: true } : { permission };
}

/**
 * Checks every JSON-RPC message of a request against the principal's
 * permissions before the MCP server sees it. A refusal is 403 with a JSON-RPC
 * error (and a `scope` challenge naming the missing permission), an audit
 * event and a metric per refused message; the tool never runs. A batch is
 * checked message by message and runs only when every message is allowed;
 * otherwise each request in it is answered with its own error.
 *
 * @example router.use(createAuthorize({ tools: { echo: 'tools:call' }, audit }));
 */
export function createAuthorize(options: AuthorizeOptions): RequestHandler {
  const { tools, prompts, resources, audit, metrics } = parseOptions('createAuthorize', optionsSchema, options);
  const policy = compilePolicy(tools, prompts, resources);

  return async function authorize(req, _res, next) {
    if (req.method !== 'POST') return next();
    const principal = req.guard?.principal;
    if (!principal) return next(new GuardError(ErrorCode.Unauthenticated, 'Authentication required'));
    const batch = Array.isArray(req.body);
    const messages: unknown[] = batch ? (req.body as unknown[]) : [req.body];
    const errors: Array<GuardError | null> = [];
    let refused = 0;
    try {
      for (const message of messages) {
        const requirement = requirementOf(message, policy);
        const permission = 'undeclared' in requirement ? undefined : requirement.permission;
        if (permission === null || (permission !== undefined && hasPermission(principal.permissions, permission))) {
          errors.push(null);
          continue;
        }
        refused += 1;
        const method = String((message as { method?: unknown }).method ?? '').slice(0, 64);
        const tool = requirement.tool?.slice(0, 128);
        metrics?.authzDenials.inc({
          method,
          tool: tool && Object.hasOwn(tools, tool) ? tool : tool ? 'undeclared' : '',
          permission: permission ?? 'undeclared',
        });
        const { actor, context } = requestActor(req);
        await audit.record({
          type: 'authz.denied',
          action: `${method}${tool ? ` ${tool}` : ''}`,
          actor,
          context,
          outcome: { status: 'denied', code: permission ? ErrorCode.InsufficientScope : ErrorCode.Forbidden },
          details: { missingPermission: permission ?? 'undeclared', ...(tool ? { tool } : {}) },
        });
        errors.push(
          permission
            ? new GuardError(ErrorCode.InsufficientScope, `Permission ${permission} is required`, { scope: permission })
            : new GuardError(ErrorCode.Forbidden, 'This request is not allowed'),
        );
        if (!batch) break;
      }
    } catch {
      return next(new GuardError(ErrorCode.Unavailable, 'The request cannot be recorded and was refused'));
    }
    if (refused === 0) {
      // Reads of resources and prompts are audited like tool calls (those are audited when they run).
      try {
        for (const message of messages) {
          const { method, params } = (message ?? {}) as { method?: unknown; params?: { uri?: unknown; name?: unknown } };
          if (method !== 'resources/read' && method !== 'prompts/get') continue;
          const target = String((method === 'resources/read' ? params?.uri : params?.name) ?? '').slice(0, 256);
          const { actor, context } = requestActor(req);
          await audit.record({
            type: method === 'resources/read' ? 'resource.read' : 'prompt.get',
            action: `${method} ${target}`,
            actor,
            context,
            outcome: { status: 'success' },
          });
        }
      } catch {
        return next(new GuardError(ErrorCode.Unavailable, 'The request cannot be recorded and was refused'));
      }
      return next();
    }
    const first = errors.find((error): error is GuardError => error !== null)!;
    if (!batch) return next(first);
    const scopes = [...new Set(errors.map((error) => error?.details.scope).filter((scope): scope is string => Boolean(scope)))];
    return next(
      new GuardError(first.code, first.message, {
        ...(scopes.length ? { scope: scopes.join(' ') } : {}),
        batch: errors,
      }),
    );
  };
}
