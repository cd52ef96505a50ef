import { createHash } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { CallToolResult, ServerNotification, ServerRequest, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { z } from 'zod';
import { hasPermission } from '../core/permissions.js';
import { principalOf } from '../core/principal.js';
import { describeError } from '../logging/redact.js';
import type { Logger } from '../logging/logger.js';

/** The SDK's per-request context handed to handlers. */
export type HandlerExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Who calls a tool, as the tool sees it. */
export interface ToolContext {
  principalId: string;
  role: string;
  /** The principal's tenant, or `default` when it has none. */
  tenant: string;
  sessionId: string | undefined;
  extra: HandlerExtra;
  /** Open sessions on this server (for administrative tools). */
  listSessions(): SessionSummary[];
}

/** A tool of a toolset, with the permission a caller needs. */
export interface ToolDefinition {
  name: string;
  title?: string;
  description: string;
  /** Permission required to see and call the tool. */
  permission: string;
  inputSchema?: z.ZodRawShape;
  annotations?: ToolAnnotations;
  run(args: Record<string, unknown>, context: ToolContext): Promise<CallToolResult> | CallToolResult;
}

/** Defines a tool with typed arguments. */
export function defineTool<S extends z.ZodRawShape>(
  definition: Omit<ToolDefinition, 'inputSchema' | 'run'> & {
    inputSchema: S;
    run(args: z.infer<z.ZodObject<S>>, context: ToolContext): Promise<CallToolResult> | CallToolResult;
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
  outcome: 'success' | 'error';
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
  hooks: McpHooks;
  logger: Logger | undefined;
  listSessions(): SessionSummary[];
  /** The permissions in force (the toolset's own, with configured overrides). Default the toolset's policy. */
  policy?: ToolsetPolicy;
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

// One object schema per tool shape, built once and shared by every server: the SDK would
// otherwise wrap the raw shape in a new zod object per registration (per session) and again
// per tools/call, which costs tens of kilobytes per idle session and time per request.
const objectSchemas = new WeakMap<z.ZodRawShape, z.ZodObject>();
function objectSchemaOf(shape: z.ZodRawShape): z.ZodObject {
  let schema = objectSchemas.get(shape);
  if (!schema) {
    schema = z.object(shape);
    objectSchemas.set(shape, schema);
  }
  return schema;
}

/**
 * Registers the tools the principal may use, each wrapped so that its call is
 * timed, reported to `onToolCall` (awaited: the audit event is written before
 * the result is sent), and any unexpected error becomes a generic tool error.
 */
export function installTools(server: McpServer, tools: readonly ToolDefinition[], context: InstallContext): void {
  const granted = context.authInfo?.scopes ?? [];
  for (const tool of tools) {
    const permission = context.policy?.tools[tool.name] ?? tool.permission;
    if (!hasPermission(granted, permission)) continue;
    const config = {
      description: tool.description,
      ...(tool.title ? { title: tool.title } : {}),
      ...(tool.inputSchema ? { inputSchema: objectSchemaOf(tool.inputSchema) } : {}),
      ...(tool.annotations ? { annotations: tool.annotations } : {}),
    };
    server.registerTool(tool.name, config, async (...params: unknown[]) => {
      // The SDK passes (args, extra) when the tool has an input schema, (extra) otherwise.
      const extra = params[params.length - 1] as HandlerExtra;
      const args = (tool.inputSchema ? params[0] : {}) as Record<string, unknown>;
      const principal = principalOf(extra.authInfo);
      const started = process.hrtime.bigint();
      let result: CallToolResult;
      let outcome: 'success' | 'error' = 'success';
      try {
        result = await tool.run(args, {
          principalId: principal?.id ?? 'anonymous',
          role: principal?.role ?? '',
          tenant: principal?.tenant ?? 'default',
          sessionId: extra.sessionId,
          extra,
          listSessions: context.listSessions,
        });
        if (result.isError) outcome = 'error';
      } catch (error) {
        outcome = 'error';
        if (!(error instanceof ToolError)) context.logger?.error('tool failed', { tool: tool.name, error: describeError(error) });
        result = { isError: true, content: [{ type: 'text', text: error instanceof ToolError ? error.message : 'The tool failed' }] };
      }
      const requestId = extra.requestInfo?.headers['x-request-id'];
      await context.hooks.onToolCall?.({
        tool: tool.name,
        authInfo: extra.authInfo,
        sessionId: extra.sessionId,
        requestId: typeof requestId === 'string' ? requestId : undefined,
        outcome,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        argsDigest: digestArgs(args),
      });
      return result;
    });
  }
}
