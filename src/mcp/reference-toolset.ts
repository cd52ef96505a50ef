import { z } from 'zod';
import { Permission } from '../core/permissions.js';
import type { TenantKv } from './kv-store.js';
import { defineTool, installTools, ToolError, type ToolDefinition, type Toolset } from './toolset.js';

const KEY = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:/-]+$/, 'keys use letters, digits and . _ : / -');

const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

/** The reference tools, from harmless to administrative, each with the permission it needs. */
export function referenceTools(kv: TenantKv): ToolDefinition[] {
  return [
    defineTool({
      name: 'echo',
      title: 'Echo',
      description: 'Returns the message it is given.',
      permission: Permission.ToolsCall,
      inputSchema: { message: z.string().max(10_000) },
      annotations: { readOnlyHint: true, openWorldHint: false },
      run: ({ message }) => text(message),
    }),
    defineTool({
      name: 'time',
      title: 'Current time',
      description: 'Returns the server time in ISO 8601.',
      permission: Permission.ToolsCall,
      inputSchema: {},
      annotations: { readOnlyHint: true, openWorldHint: false },
      run: () => text(new Date().toISOString()),
    }),
    defineTool({
      name: 'kv_get',
      title: 'Read a value',
      description: "Reads a value from the caller's key-value store (its tenant's, or its own without a tenant).",
      permission: Permission.KvRead,
      inputSchema: { key: KEY },
      annotations: { readOnlyHint: true, openWorldHint: false },
      run: ({ key }, { partition }) => {
        const value = kv.get(partition, key);
        if (value === undefined) throw new ToolError(`No value for key "${key}"`);
        return text(value);
      },
    }),
    defineTool({
      name: 'kv_list',
      title: 'List keys',
      description: "Lists keys in the caller's key-value store (its tenant's, or its own without a tenant).",
      permission: Permission.KvRead,
      inputSchema: { prefix: z.string().max(128).optional() },
      annotations: { readOnlyHint: true, openWorldHint: false },
      run: ({ prefix }, { partition }) => text(JSON.stringify(kv.list(partition, prefix))),
    }),
    defineTool({
      name: 'kv_set',
      title: 'Write a value',
      description: "Writes a value to the caller's key-value store (its tenant's, or its own without a tenant).",
      permission: Permission.KvWrite,
      inputSchema: { key: KEY, value: z.string().max(4096) },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      run: ({ key, value }, { partition }) => {
        if (!kv.set(partition, key, value)) throw new ToolError('The store is full for this caller');
        return text('ok');
      },
    }),
    defineTool({
      name: 'kv_delete',
      title: 'Delete a value',
      description: "Deletes a key from the caller's key-value store (its tenant's, or its own without a tenant).",
      permission: Permission.KvWrite,
      inputSchema: { key: KEY },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      run: ({ key }, { partition }) => text(kv.delete(partition, key) ? 'deleted' : 'absent'),
    }),
    defineTool({
      name: 'list_sessions',
      title: 'List MCP sessions',
      description: 'Administrative: lists open MCP sessions (ids, owners, activity) on this server.',
      permission: Permission.SessionsManage,
      inputSchema: {},
      annotations: { readOnlyHint: true, openWorldHint: false },
      run: (_args, { listSessions }) => text(JSON.stringify(listSessions())),
    }),
  ];
}

/** Permission per reference tool (what the authorization middleware enforces). */
export function toolPermissionsOf(tools: readonly ToolDefinition[]): Record<string, string> {
  return Object.fromEntries(tools.map((tool) => [tool.name, tool.permission]));
}

/** The reference toolset: `echo`, `time`, `kv_*` (partitioned by tenant, or by principal without one) and the admin `list_sessions`. */
export function createReferenceToolset(kv: TenantKv): Toolset {
  const tools = referenceTools(kv);
  return {
    name: 'reference',
    policy: { tools: toolPermissionsOf(tools), prompts: {}, resources: {} },
    tools,
    install(server, context) {
      installTools(server, tools, context);
    },
  };
}
