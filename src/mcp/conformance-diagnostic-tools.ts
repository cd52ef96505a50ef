import { acceptedContent, inputRequired, inputResponse, type JsonSchemaType, type ServerEventBus } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { Permission } from '../core/permissions.js';
import { defineTool, type ToolDefinition } from './toolset.js';

const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The input schema the suite's `json-schema-2020-12` scenario expects verbatim
 * (SEP-1613, SEP-2106): `$schema`, `$defs` with an `$anchor`, a `$ref`,
 * `allOf`/`anyOf`, `if`/`then`/`else` and `additionalProperties: false`. Zod
 * cannot express it, so it is a JSON Schema, validated as written.
 */
const JSON_SCHEMA_2020_12: JsonSchemaType = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: {
    address: {
      $anchor: 'addressDef',
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
    },
  },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
    contactMethod: { type: 'string', enum: ['phone', 'email'] },
    phone: { type: 'string' },
    email: { type: 'string' },
  },
  allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
  if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
  then: { required: ['phone'] },
  else: { required: ['email'] },
  additionalProperties: false,
};

// Built once: the routing-header declarations are read from it at start-up.
const PARAM_HEADER_SHAPE = {
  region: z.string().max(256).describe('Mirrored into the Mcp-Param-Region header').meta({ 'x-mcp-header': 'Region' }),
  note: z.string().max(256).optional().describe('Not mirrored'),
};

/**
 * The suite's diagnostic tools: the fixtures the 2026-07-28 `server-stateless`
 * and `http-custom-header-server-validation` scenarios and the 2025
 * `json-schema-2020-12` and `server-sse-polling` scenarios look for by name.
 * The two list-change triggers publish on `bus`, which every
 * `subscriptions/listen` stream of the endpoint subscribes to: a broadcast to
 * every principal's streams, so they need `sessions:manage`.
 */
export function diagnosticTools(bus: ServerEventBus): ToolDefinition[] {
  const call = Permission.ToolsCall;
  return [
    defineTool({
      name: 'test_missing_capability',
      description: 'Needs the sampling client capability: a request that does not declare it is refused with -32021.',
      permission: call,
      inputSchema: {},
      run: (_args, { ctx }) => {
        const view = inputResponse(ctx.mcpReq.inputResponses, 'llm_answer');
        if (view.kind === 'sampling') return text('The sampling round trip completed');
        const llm_answer = inputRequired.createMessage({
          messages: [{ role: 'user', content: { type: 'text', text: 'Reply with the single word: pong' } }],
          maxTokens: 16,
        });
        // The SDK checks the embedded request against the declared capabilities after this returns.
        return inputRequired({ inputRequests: { llm_answer } });
      },
    }),
    defineTool({
      name: 'test_streaming_elicitation',
      description: 'Elicits the 2026-07-28 way: an input_required result, never a request of its own on the response stream.',
      permission: call,
      inputSchema: {},
      run: (_args, { ctx }) => {
        if (acceptedContent(ctx.mcpReq.inputResponses, 'confirm', z.object({ ok: z.boolean() }))) {
          return text('The elicitation travelled in the result, not as a request on the stream');
        }
        return inputRequired({
          inputRequests: {
            confirm: inputRequired.elicit({
              message: 'Continue?',
              requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
            }),
          },
        });
      },
    }),
    defineTool({
      name: 'test_logging_tool',
      description: "Logs through the request's log channel: nothing is sent unless the request asked for a log level.",
      permission: call,
      inputSchema: {},
      run: async (_args, { ctx }) => {
        // Deprecated by 2026-07-28 but still served; it honours `_meta` logLevel (or logging/setLevel in 2025).
        await ctx.mcpReq.log('info', 'test_logging_tool ran', 'conformance');
        return text('Logged at info through the level-gated channel');
      },
    }),
    {
      name: 'json_schema_2020_12_tool',
      description: 'Takes arguments described by a JSON Schema 2020-12 input schema.',
      permission: call,
      jsonInputSchema: JSON_SCHEMA_2020_12,
      run: (args) => text(`Arguments accepted: ${Object.keys(args).sort().join(', ')}`),
    },
    defineTool({
      name: 'test_param_header',
      description: 'Has an argument clients mirror into the Mcp-Param-Region header, checked against the body (SEP-2243).',
      permission: call,
      inputSchema: PARAM_HEADER_SHAPE,
      run: ({ region }) => text(`region=${region}`),
    }),
    defineTool({
      name: 'test_reconnection',
      description: 'Closes its SSE stream mid-call; the result arrives when the client resumes with Last-Event-ID (SEP-1699).',
      permission: call,
      inputSchema: {},
      run: async (_args, { ctx }) => {
        // Only a 2025 session with an event store can close the stream and replay the result later.
        const close = ctx.http?.closeSSE;
        close?.();
        await sleep(100);
        return text(close ? 'The stream was closed and the result replayed after the reconnection' : 'No stream to close here');
      },
    }),
    defineTool({
      name: 'test_trigger_tool_change',
      description: 'Announces a tool list change on every open subscriptions/listen stream.',
      permission: Permission.SessionsManage,
      inputSchema: {},
      run: () => {
        bus.publish({ kind: 'tools_list_changed' });
        return text('tools/list_changed published');
      },
    }),
    defineTool({
      name: 'test_trigger_prompt_change',
      description: 'Announces a prompt list change on every open subscriptions/listen stream.',
      permission: Permission.SessionsManage,
      inputSchema: {},
      run: () => {
        bus.publish({ kind: 'prompts_list_changed' });
        return text('prompts/list_changed published');
      },
    }),
  ];
}
