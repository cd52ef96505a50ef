import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import type { AuditLogger } from '../audit/types.js';
import { parseOptions, service } from '../core/options.js';
import { hasPermission, Permission } from '../core/permissions.js';
import { ErrorCode } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { methodLabel } from '../metrics/labels.js';
import { requestActor, type McpEra } from './context.js';

const optionsSchema = z.strictObject({
  tools: z.record(z.string(), z.string()),
  prompts: z.record(z.string(), z.string()).optional(),
  resources: z.record(z.string(), z.string()).optional(),
  methods: z.record(z.string(), z.string()).optional(),
  defaults: z.strictObject({ tools: z.string().optional(), prompts: z.string().optional(), resources: z.string().optional() }).optional(),
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
  /** Custom JSON-RPC methods your server adds, to the permission each requires. Default none (refused). */
  methods?: Record<string, string>;
  /**
   * What a tool, prompt or resource the maps above do not name requires
   * (for a server whose names are not known in advance, such as a gateway's
   * upstream). Default: nothing, such a name is refused.
   */
  defaults?: PolicyDefaults;
  audit: AuditLogger;
  metrics?: GuardMetrics;
}

/** The permission an undeclared tool, prompt or resource requires; absent: it is refused. */
export interface PolicyDefaults {
  tools?: string;
  prompts?: string;
  resources?: string;
}

/**
 * What one MCP message needs: nothing, every permission of a list, any one of
 * a list, or a refusal (`undeclared` for something the policy does not name,
 * `not_found` for a method the protocol revision does not have,
 * `unknown_resource` for a read of a URI no declared resource or template matches).
 */
export type Requirement =
  | { kind: 'none' }
  | { kind: 'all'; permissions: string[]; tool?: string }
  | { kind: 'any'; permissions: string[] }
  | { kind: 'undeclared'; tool?: string }
  | { kind: 'not_found' }
  | { kind: 'unknown_resource'; uri: string };

/**
 * The permissions of which a principal needs one to open an MCP connection
 * (`initialize`, `server/discover`): a principal that may use nothing of MCP
 * (a metrics-only role, say) cannot hold sessions or probe the server.
 */
export const MCP_USE_PERMISSIONS: readonly string[] = [
  Permission.ToolsList,
  Permission.ToolsCall,
  Permission.PromptsList,
  Permission.PromptsGet,
  Permission.ResourcesList,
  Permission.ResourcesRead,
  Permission.SubscriptionsListen,
];

const LIST_PERMISSIONS: Readonly<Record<string, string>> = {
  'tools/list': Permission.ToolsList,
  'resources/list': Permission.ResourcesList,
  'resources/templates/list': Permission.ResourcesList,
  'prompts/list': Permission.PromptsList,
};

/** 2025-era methods any principal with some MCP permission may send. */
const LEGACY_OPEN = new Set(['ping', 'logging/setLevel']);
const LEGACY_RESOURCE_METHODS = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe']);
/** Methods of 2026-07-28 (the others of 2025, `initialize`, `ping`, `logging/setLevel`, `resources/(un)subscribe`, are gone). */
const MODERN_METHODS = new Set([
  'server/discover',
  'subscriptions/listen',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'completion/complete',
]);

/** Methods whose requirement the routing headers alone determine (method, and the name they mirror). */
const DECIDED_BY_HEADERS = new Set([
  'server/discover',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/templates/list',
  'resources/read',
]);

/** The policy of {@link requirementOf}, compiled once. */
export interface AuthorizationPolicy {
  tools: ReadonlyMap<string, string>;
  prompts: ReadonlyMap<string, string>;
  /** Resource URI or template to permission. */
  resources: ReadonlyMap<string, string>;
  /** Custom methods to permission. */
  methods: ReadonlyMap<string, string>;
  /** Templates compiled to anchored patterns, in declaration order. */
  templates: ReadonlyArray<{ pattern: RegExp; permission: string }>;
  /** What undeclared names require (absent: refused). */
  defaults: Readonly<PolicyDefaults>;
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
  methods: Record<string, string> = {},
  defaults: PolicyDefaults = {},
): AuthorizationPolicy {
  return {
    defaults: { ...defaults },
    tools: new Map(Object.entries(tools)),
    prompts: new Map(Object.entries(prompts)),
    resources: new Map(Object.entries(resources)),
    methods: new Map(Object.entries(methods)),
    templates: Object.entries(resources)
      .filter(([uri]) => uri.includes('{'))
      .map(([uri, permission]) => ({ pattern: templatePattern(uri), permission })),
  };
}

function resourcePermission(uri: unknown, policy: AuthorizationPolicy): string | undefined {
  if (typeof uri !== 'string' || uri.length > 2048) return undefined;
  const exact = policy.resources.get(uri);
  if (exact !== undefined && !uri.includes('{')) return exact;
  return policy.templates.find((template) => template.pattern.test(uri))?.permission ?? policy.defaults.resources;
}

const all = (permission: string | undefined, tool?: string): Requirement =>
  permission === undefined
    ? { kind: 'undeclared', ...(tool ? { tool } : {}) }
    : { kind: 'all', permissions: [permission], ...(tool ? { tool } : {}) };

/**
 * A `subscriptions/listen` stream needs `subscriptions:listen` and, for each
 * kind of notification it asks for, the permission to see what it announces:
 * the list permission for list changes, the resource's own permission for
 * each subscribed URI (an undeclared URI refuses the stream).
 */
function listenRequirement(filter: unknown, policy: AuthorizationPolicy): Requirement {
  const wanted = (filter ?? {}) as {
    toolsListChanged?: unknown;
    promptsListChanged?: unknown;
    resourcesListChanged?: unknown;
    resourceSubscriptions?: unknown;
  };
  const permissions = new Set<string>([Permission.SubscriptionsListen]);
  if (wanted.toolsListChanged === true) permissions.add(Permission.ToolsList);
  if (wanted.promptsListChanged === true) permissions.add(Permission.PromptsList);
  if (wanted.resourcesListChanged === true) permissions.add(Permission.ResourcesList);
  if (wanted.resourceSubscriptions !== undefined) {
    if (!Array.isArray(wanted.resourceSubscriptions) || wanted.resourceSubscriptions.length > 100) return { kind: 'undeclared' };
    for (const uri of wanted.resourceSubscriptions) {
      const permission = resourcePermission(uri, policy);
      if (permission === undefined) return { kind: 'undeclared' };
      permissions.add(permission);
    }
  }
  return { kind: 'all', permissions: [...permissions] };
}

/**
 * What one JSON-RPC message needs, as a pure function of the message, the
 * policy and the protocol era. Responses and notifications need nothing;
 * opening a connection needs some MCP permission; a tool call, prompt get or
 * resource read needs the permission declared for that tool, prompt or
 * resource; anything undeclared is refused, and a method the era does not
 * have is not found.
 */
export function requirementOf(message: unknown, policy: AuthorizationPolicy, era: McpEra = 'legacy'): Requirement {
  const { method, params } = (message ?? {}) as {
    method?: unknown;
    params?: { name?: unknown; uri?: unknown; ref?: { type?: unknown; name?: unknown; uri?: unknown }; notifications?: unknown };
  };
  if (typeof method !== 'string') return { kind: 'none' }; // a response to a server request
  if (method.startsWith('notifications/')) return { kind: 'none' };
  // Own keys only: `toString` or `__proto__` as a method must not find Object.prototype.
  const custom = policy.methods.has(method) ? policy.methods.get(method) : undefined;
  if (custom !== undefined) return { kind: 'all', permissions: [custom] };
  if (era === 'modern') {
    if (!MODERN_METHODS.has(method)) return { kind: 'not_found' };
    if (method === 'server/discover') return { kind: 'any', permissions: [...MCP_USE_PERMISSIONS] };
    if (method === 'subscriptions/listen') return listenRequirement(params?.notifications, policy);
  } else {
    if (method === 'initialize') return { kind: 'any', permissions: [...MCP_USE_PERMISSIONS] };
    if (LEGACY_OPEN.has(method)) return { kind: 'none' };
  }
  if (method === 'tools/call') {
    const tool = typeof params?.name === 'string' ? params.name : undefined;
    return all(tool === undefined ? undefined : (policy.tools.get(tool) ?? policy.defaults.tools), tool);
  }
  if (method === 'prompts/get')
    return all(typeof params?.name === 'string' ? (policy.prompts.get(params.name) ?? policy.defaults.prompts) : undefined);
  if (method === 'resources/read' || (era === 'legacy' && LEGACY_RESOURCE_METHODS.has(method))) {
    const permission = resourcePermission(params?.uri, policy);
    // Nothing the policy declares can be read, so to the client such a URI does not exist.
    if (permission === undefined && method === 'resources/read' && typeof params?.uri === 'string' && params.uri.length <= 2048) {
      return { kind: 'unknown_resource', uri: params.uri };
    }
    return all(permission);
  }
  if (method === 'completion/complete') {
    const ref = params?.ref;
    return all(
      ref?.type === 'ref/prompt'
        ? typeof ref.name === 'string'
          ? (policy.prompts.get(ref.name) ?? policy.defaults.prompts)
          : undefined
        : ref?.type === 'ref/resource' && typeof ref.uri === 'string'
          ? (policy.resources.get(ref.uri) ?? policy.defaults.resources)
          : undefined,
    );
  }
  const list = Object.hasOwn(LIST_PERMISSIONS, method) ? LIST_PERMISSIONS[method] : undefined;
  return all(list);
}

/** The refusal for a requirement the principal's permissions do not meet; undefined when they do. */
export function refusalOf(requirement: Requirement, granted: readonly string[]): GuardError | undefined {
  switch (requirement.kind) {
    case 'none':
      return undefined;
    case 'not_found':
      return new GuardError(ErrorCode.MethodNotFound, 'Method not found');
    case 'undeclared':
      return new GuardError(ErrorCode.Forbidden, 'This request is not allowed');
    case 'unknown_resource':
      // The protocol's answer for a resource that does not exist (-32602 with the URI), in both eras.
      return new GuardError(ErrorCode.InvalidParams, 'Resource not found', { data: { uri: requirement.uri } });
    case 'any':
      return requirement.permissions.some((permission) => hasPermission(granted, permission))
        ? undefined
        : new GuardError(ErrorCode.InsufficientScope, 'An MCP permission is required', { scope: requirement.permissions.join(' ') });
    case 'all': {
      const missing = requirement.permissions.filter((permission) => !hasPermission(granted, permission));
      if (missing.length === 0) return undefined;
      return new GuardError(ErrorCode.InsufficientScope, `Permission ${missing.join(' ')} is required`, { scope: missing.join(' ') });
    }
  }
}

interface Refusal {
  error: GuardError;
  method: string;
  tool: string | undefined;
}

/**
 * Checks every JSON-RPC message of a request against the principal's
 * permissions before the MCP server sees it. Mounted twice: before the body
 * is parsed it decides from a 2026-07-28 request's routing headers
 * (`req.guard.routing`) and may only refuse (the refusal is answered once the
 * body is read and agrees with the headers, so that it carries the request's
 * id); after the body was parsed and verified against those headers
 * (`req.guard.mcp`) it decides on the body, which is the final word. A refusal is 403 with a JSON-RPC error (and a
 * `scope` challenge naming the missing permission), or 404 for a method the
 * protocol revision does not have, with an audit event and a metric per
 * refused message; the tool never runs. A batch runs only when every message
 * is allowed; otherwise each request in it gets its own error.
 *
 * @example router.use(authenticate, authorize, bodyParser, mcpRequestCheck, authorize);
 */
export function createAuthorize(options: AuthorizeOptions): RequestHandler {
  const { tools, prompts, resources, methods, defaults, audit, metrics } = parseOptions('createAuthorize', optionsSchema, options);
  const policy = compilePolicy(tools, prompts, resources, methods, defaults);

  const record = async (req: Request, refusal: Refusal): Promise<void> => {
    const { error, method, tool } = refusal;
    const permission = error.details.scope;
    metrics?.authzDenials.inc({
      method: methodLabel(method),
      tool: tool && policy.tools.has(tool) ? tool : tool ? 'undeclared' : '',
      permission: error.code === ErrorCode.InsufficientScope ? (permission?.split(' ')[0] ?? '') : error.code,
    });
    const { actor, context } = requestActor(req);
    await audit.record({
      type: 'authz.denied',
      action: `${method.slice(0, 64)}${tool ? ` ${tool.slice(0, 128)}` : ''}`,
      actor,
      context,
      outcome: { status: 'denied', code: error.code },
      details: {
        missingPermission: permission ?? (error.code === ErrorCode.MethodNotFound ? 'method_not_found' : 'undeclared'),
        ...(tool ? { tool: tool.slice(0, 128) } : {}),
      },
    });
  };

  const check = (message: unknown, era: McpEra, granted: readonly string[]): Refusal | undefined => {
    const requirement = requirementOf(message, policy, era);
    const error = refusalOf(requirement, granted);
    if (!error) return undefined;
    const method = String((message as { method?: unknown }).method ?? '');
    return { error, method, tool: 'tool' in requirement ? requirement.tool : undefined };
  };

  return async function authorize(req, _res, next) {
    if (req.method !== 'POST') return next();
    const principal = req.guard?.principal;
    if (!principal) return next(new GuardError(ErrorCode.Unauthenticated, 'Authentication required'));
    const mcp = req.guard?.mcp;
    try {
      if (!mcp) {
        // Before the body: a 2026-07-28 request's routing headers may decide a refusal early (answered
        // once the body is read and agrees with them); only the body ever allows.
        const routing = req.guard?.routing;
        if (!routing || req.guard?.earlyRefusal || !DECIDED_BY_HEADERS.has(routing.method)) return next();
        const message = { method: routing.method, params: routing.name === undefined ? {} : { name: routing.name, uri: routing.name } };
        const refusal = check(message, 'modern', principal.permissions);
        if (refusal) req.guard!.earlyRefusal = { error: refusal.error, record: () => record(req, refusal) };
        return next();
      }
      const batch = Array.isArray(req.body);
      const messages: unknown[] = batch ? (req.body as unknown[]) : [req.body];
      const errors: Array<GuardError | null> = [];
      let first: GuardError | undefined;
      for (const message of messages) {
        const refusal = check(message, mcp.era, principal.permissions);
        errors.push(refusal?.error ?? null);
        if (!refusal) continue;
        first ??= refusal.error;
        await record(req, refusal);
        if (!batch) break;
      }
      if (first) {
        if (!batch) return next(first);
        const scopes = [...new Set(errors.flatMap((error) => error?.details.scope?.split(' ') ?? []))];
        return next(new GuardError(first.code, first.message, { ...(scopes.length ? { scope: scopes.join(' ') } : {}), batch: errors }));
      }
      // Reads of resources and prompts are audited like tool calls (those are audited when they run).
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
      return next();
    } catch {
      return next(new GuardError(ErrorCode.Unavailable, 'The request cannot be recorded and was refused'));
    }
  };
}
