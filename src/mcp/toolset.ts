import { createHash } from 'node:crypto';
import {
  fromJsonSchema,
  type AuthInfo,
  type CallToolResult,
  type InputRequiredResult,
  type JsonSchemaType,
  type McpServer,
  type ServerContext,
  type ServerEventBus,
  type StandardSchemaWithJSON,
  type ToolAnnotations,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { hasPermission } from '../core/permissions.js';
import { principalOf } from '../core/principal.js';
import { describeError } from '../logging/redact.js';
import type { Logger } from '../logging/logger.js';
import type { McpEra } from './era.js';

/** The SDK's per-request context handed to handlers. */
export type HandlerContext = ServerContext;

/** Who calls a tool, as the tool sees it. */
export interface ToolContext {
  principalId: string;
  role: string;
  /** The principal's tenant; undefined for a principal that has none. */
  tenant: string | undefined;
  /**
   * The data partition of the caller: `tenant:<name>` for a principal with a
   * tenant, `principal:<id>` for one without. Two principals without a tenant
   * never share a partition, and no tenant name can collide with one.
   */
  partition: string;
  sessionId: string | undefined;
  /** The protocol era of the call. */
  era: McpEra;
  ctx: HandlerContext;
  /** Open sessions on this server (for administrative tools). */
  listSessions(): SessionSummary[];
  /**
   * Seals `state` for an `input_required` round: signed, expiring, and bound
   * to this principal, method and tool, so no other principal can replay it,
   * no other tool accepts it and no client can alter it.
   */
  mintState(state: unknown): Promise<string>;
  /** The state this call's client echoed back, verified (see {@link mintState}); undefined on a first round. */
  state<T = unknown>(): T | undefined;
}

/** What a tool returns: a result, or (2026-07-28) a request for client input. */
export type ToolResult = CallToolResult | InputRequiredResult;

/** A tool of a toolset, with the permission a caller needs. */
export interface ToolDefinition {
  name: string;
  title?: string;
  description: string;
  /** Permission required to see and call the tool. */
  permission: string;
  inputSchema?: z.ZodRawShape;
  /**
   * The arguments as a JSON Schema object instead of `inputSchema`, for what
   * zod cannot express (`$defs`, `if`/`then`/`else`): advertised as written
   * and validated by the SDK against it before the tool runs.
   */
  jsonInputSchema?: JsonSchemaType;
  annotations?: ToolAnnotations;
  run(args: Record<string, unknown>, context: ToolContext): Promise<ToolResult> | ToolResult;
}

/** Defines a tool with typed arguments. */
export function defineTool<S extends z.ZodRawShape>(
  definition: Omit<ToolDefinition, 'inputSchema' | 'run'> & {
    inputSchema: S;
    run(args: z.infer<z.ZodObject<S>>, context: ToolContext): Promise<ToolResult> | ToolResult;
  },
): ToolDefinition {
  return definition as unknown as ToolDefinition;
}

/** A tool call as reported to the hooks (for audit and metrics). Arguments appear only as a digest. */
export interface ToolCallEvent {
  tool: string;
  authInfo: AuthInfo | undefined;
  sessionId: string | undefined;
  requestId: string | undefined;
  era: McpEra;
  /** W3C trace context the client sent in `_meta`, when well formed. */
  traceparent: string | undefined;
  /** `input_required` when the tool asked the client for input instead of finishing. */
  outcome: 'success' | 'error' | 'input_required';
  durationMs: number;
  argsDigest: string;
}

/** Callbacks from the MCP layer; awaited before the response is sent. */
export interface McpHooks {
  onToolCall?(event: ToolCallEvent): Promise<void>;
}

/** Summary of an open MCP session, for the admin tool. Never holds a secret. */
export interface SessionSummary {
  id: string;
  principalId: string;
  tenant: string | undefined;
  createdAt: string;
  lastSeenAt: string;
  openRequests: number;
}

/** What a toolset may use while installing itself on a server. */
export interface InstallContext {
  authInfo: AuthInfo | undefined;
  era: McpEra;
  hooks: McpHooks;
  logger: Logger | undefined;
  listSessions(): SessionSummary[];
  /** The permissions in force (the toolset's own, with configured overrides). */
  policy: ToolsetPolicy;
  /**
   * The one tool the server is built to call (a `tools/call` served by a server of its own):
   * only that tool is registered. Undefined: every tool the principal may use.
   */
  only?: string | undefined;
  /** Seals input_required state for the current call (see {@link ToolContext.mintState}). */
  mintState(state: unknown, ctx: HandlerContext): Promise<string>;
}

/**
 * What each tool, prompt and resource of a toolset requires: the policy the
 * authorization middleware enforces. Anything not declared is denied.
 */
export interface ToolsetPolicy {
  /** Tool name to permission. */
  tools: Record<string, string>;
  /** Prompt name to permission. */
  prompts: Record<string, string>;
  /** Resource URI or URI template (RFC 6570, as registered) to permission. */
  resources: Record<string, string>;
}

/** A set of tools, prompts and resources the reference server can run. */
export interface Toolset {
  name: string;
  policy: ToolsetPolicy;
  /** Tool definitions, for the start-up checks (routing-header declarations). */
  tools: readonly ToolDefinition[];
  /**
   * Where a toolset whose lists change at run time publishes the changes;
   * the endpoint's `subscriptions/listen` streams subscribe to it. Default:
   * none (the lists never change).
   */
  bus?: ServerEventBus;
  /** Registers on `server` what the principal of `context.authInfo` may use. */
  install(server: McpServer, context: InstallContext): void;
}

/** A short digest of tool arguments, so the audit trail can match calls without storing values. */
export function digestArgs(args: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(args ?? null))
    .digest('hex')
    .slice(0, 32);
}

/** Thrown by a tool for an error whose message is safe to show the caller. */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

// One object schema per tool shape, built once and shared by every server: registering the raw
// shape would wrap it in a new zod object per registration (per session or request).
const objectSchemas = new WeakMap<z.ZodRawShape, z.ZodObject>();
/** The zod object schema of a tool's raw shape, built once per shape. */
export function objectSchemaOf(shape: z.ZodRawShape): z.ZodObject {
  let schema = objectSchemas.get(shape);
  if (!schema) {
    schema = z.object(shape);
    objectSchemas.set(shape, schema);
  }
  return schema;
}

const jsonSchemas = new WeakMap<JsonSchemaType, StandardSchemaWithJSON<unknown, unknown>>();
function jsonSchemaOf(schema: JsonSchemaType): StandardSchemaWithJSON<unknown, unknown> {
  let wrapped = jsonSchemas.get(schema);
  if (!wrapped) {
    wrapped = fromJsonSchema(schema);
    jsonSchemas.set(schema, wrapped);
  }
  return wrapped;
}

/** A tool's input schema as JSON Schema (what `tools/list` advertises), for start-up checks; undefined without one. */
export function inputJsonSchemaOf(tool: ToolDefinition): unknown {
  if (tool.jsonInputSchema) return tool.jsonInputSchema;
  return tool.inputSchema ? z.toJSONSchema(objectSchemaOf(tool.inputSchema), { unrepresentable: 'any' }) : undefined;
}

/** The data partition of a principal (see {@link ToolContext.partition}). */
export function partitionOf(principal: { id: string; tenant?: string | undefined } | undefined): string {
  if (!principal) return 'principal:anonymous';
  return principal.tenant !== undefined ? `tenant:${principal.tenant}` : `principal:${principal.id}`;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

function traceparentOf(ctx: HandlerContext): string | undefined {
  const fromMeta = (ctx.mcpReq._meta as Record<string, unknown> | undefined)?.traceparent;
  const value = typeof fromMeta === 'string' ? fromMeta : (ctx.http?.req?.headers.get('traceparent') ?? undefined);
  return value !== undefined && TRACEPARENT.test(value) ? value : undefined;
}

/** What `mintState` seals: the tool it was minted for, and the tool's own state. */
interface SealedState {
  tool: string;
  state: unknown;
}

const isInputRequired = (result: ToolResult): result is InputRequiredResult =>
  (result as { resultType?: unknown }).resultType === 'input_required';

/**
 * Registers the tools the principal may use, each wrapped so that its call is
 * timed, reported to `onToolCall` (awaited: the audit event is written before
 * the result is sent), and any unexpected error becomes a generic tool error.
 */
export function installTools(server: McpServer, tools: readonly ToolDefinition[], context: InstallContext): void {
  const granted = context.authInfo?.scopes ?? [];
  for (const tool of tools) {
    if (context.only !== undefined && tool.name !== context.only) continue;
    const permission = context.policy.tools[tool.name] ?? tool.permission;
    if (!hasPermission(granted, permission)) continue;
    const hasArgs = tool.inputSchema !== undefined || tool.jsonInputSchema !== undefined;
    const config = {
      description: tool.description,
      ...(tool.title ? { title: tool.title } : {}),
      ...(tool.inputSchema ? { inputSchema: objectSchemaOf(tool.inputSchema) } : {}),
      ...(tool.jsonInputSchema ? { inputSchema: jsonSchemaOf(tool.jsonInputSchema) } : {}),
      ...(tool.annotations ? { annotations: tool.annotations } : {}),
    };
    const handler = async (...params: unknown[]) => {
      // The SDK passes (args, ctx) when the tool has an input schema, (ctx) otherwise.
      const ctx = params[params.length - 1] as HandlerContext;
      const args = (hasArgs ? params[0] : {}) as Record<string, unknown>;
      const principal = principalOf(ctx.http?.authInfo);
      const started = process.hrtime.bigint();
      let result: ToolResult;
      let outcome: ToolCallEvent['outcome'] = 'success';
      try {
        // The codec verified the seal and the principal; the tool it was minted for is checked here.
        const sealed = ctx.mcpReq.requestState<SealedState>();
        if (sealed !== undefined && sealed.tool !== tool.name) throw new ToolError('The request state belongs to another tool');
        result = await tool.run(args, {
          principalId: principal?.id ?? 'anonymous',
          role: principal?.role ?? '',
          tenant: principal?.tenant,
          partition: partitionOf(principal),
          sessionId: ctx.sessionId,
          era: context.era,
          ctx,
          listSessions: context.listSessions,
          mintState: (state) => context.mintState({ tool: tool.name, state } satisfies SealedState, ctx),
          state: <T>() => sealed?.state as T | undefined,
        });
        if (isInputRequired(result)) outcome = 'input_required';
        else if (result.isError) outcome = 'error';
      } catch (error) {
        outcome = 'error';
        if (!(error instanceof ToolError)) context.logger?.error('tool failed', { tool: tool.name, error: describeError(error) });
        result = { isError: true, content: [{ type: 'text', text: error instanceof ToolError ? error.message : 'The tool failed' }] };
      }
      const requestId = ctx.http?.req?.headers.get('x-request-id') ?? undefined;
      await context.hooks.onToolCall?.({
        tool: tool.name,
        authInfo: ctx.http?.authInfo,
        sessionId: ctx.sessionId,
        requestId,
        era: context.era,
        traceparent: traceparentOf(ctx),
        outcome,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        argsDigest: digestArgs(args),
      });
      return result;
    };
    server.registerTool(tool.name, config, handler as never);
  }
}
