import type { ElicitRequestFormParams } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { Permission } from '../core/permissions.js';
import { RED_PIXEL_PNG, SILENT_WAV } from './conformance-media.js';
import { defineTool, ToolError, type HandlerContext, type ToolDefinition } from './toolset.js';

const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type RequestedSchema = ElicitRequestFormParams['requestedSchema'];

/** Asks the client for input over the stream of the tool call (a 2025 server-to-client request). */
async function elicit(ctx: HandlerContext, message: string, requestedSchema: RequestedSchema) {
  try {
    // ctx.mcpReq.send relates the request to the tool call, so it travels on that call's own stream
    // (ctx.mcpReq.elicitInput would send it on the session's GET stream, if one is open).
    return await ctx.mcpReq.send({ method: 'elicitation/create', params: { message, requestedSchema } });
  } catch {
    // The client lacks the elicitation capability, refused, or went away: a tool error, not a crash.
    throw new ToolError('The client did not answer the elicitation request');
  }
}

const elicitedText = (result: { action: string; content?: unknown }) =>
  text(`Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);

/**
 * The tools the MCP conformance suite's server scenarios call (`test_*`), each
 * needing `tools:call` like any reference tool, so audit and limits apply.
 */
export function conformanceTools(): ToolDefinition[] {
  const call = Permission.ToolsCall;
  return [
    defineTool({
      name: 'test_simple_text',
      description: 'Returns a fixed text.',
      permission: call,
      inputSchema: {},
      run: () => text('This is a simple text response for testing.'),
    }),
    defineTool({
      name: 'test_image_content',
      description: 'Returns a 1x1 PNG image.',
      permission: call,
      inputSchema: {},
      run: () => ({ content: [{ type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' }] }),
    }),
    defineTool({
      name: 'test_audio_content',
      description: 'Returns a tiny WAV clip.',
      permission: call,
      inputSchema: {},
      run: () => ({ content: [{ type: 'audio', data: SILENT_WAV, mimeType: 'audio/wav' }] }),
    }),
    defineTool({
      name: 'test_embedded_resource',
      description: 'Returns an embedded text resource.',
      permission: call,
      inputSchema: {},
      run: () => ({
        content: [
          {
            type: 'resource',
            resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' },
          },
        ],
      }),
    }),
    defineTool({
      name: 'test_multiple_content_types',
      description: 'Returns text, an image and an embedded resource.',
      permission: call,
      inputSchema: {},
      run: () => ({
        content: [
          { type: 'text', text: 'Multiple content types test:' },
          { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' },
          {
            type: 'resource',
            resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: '{"test":"data","value":123}' },
          },
        ],
      }),
    }),
    defineTool({
      name: 'test_tool_with_logging',
      description: 'Sends three log messages while it runs.',
      permission: call,
      inputSchema: {},
      run: async (_args, { ctx }) => {
        const log = (data: string) =>
          ctx.mcpReq.notify({ method: 'notifications/message', params: { level: 'info', logger: 'conformance', data } });
        await log('Tool execution started');
        await sleep(50);
        await log('Tool processing data');
        await sleep(50);
        await log('Tool execution completed');
        return text('Tool with logging executed successfully');
      },
    }),
    defineTool({
      name: 'test_error_handling',
      description: 'Always fails, to test error reporting.',
      permission: call,
      inputSchema: {},
      run: () => {
        throw new ToolError('This tool intentionally returns an error for testing');
      },
    }),
    defineTool({
      name: 'test_tool_with_progress',
      description: 'Reports progress 0, 50 and 100 of 100.',
      permission: call,
      inputSchema: {},
      run: async (_args, { ctx }) => {
        const progressToken = ctx.mcpReq._meta?.progressToken;
        for (const progress of [0, 50, 100]) {
          if (progress) await sleep(50);
          if (progressToken !== undefined) {
            await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress, total: 100 } });
          }
        }
        return text('Tool with progress executed successfully');
      },
    }),
    defineTool({
      name: 'test_sampling',
      description: 'Asks the client to sample an LLM with the given prompt.',
      permission: call,
      inputSchema: { prompt: z.string().max(10_000) },
      run: async ({ prompt }, { ctx }) => {
        let result;
        try {
          // On the tool call's own stream, like the elicitation above.
          result = await ctx.mcpReq.send({
            method: 'sampling/createMessage',
            params: { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 },
          });
        } catch {
          throw new ToolError('The client did not answer the sampling request');
        }
        const content = result.content;
        return text(`LLM response: ${!Array.isArray(content) && content.type === 'text' ? content.text : JSON.stringify(content)}`);
      },
    }),
    defineTool({
      name: 'test_elicitation',
      description: 'Asks the user, through the client, for a username and an email address.',
      permission: call,
      inputSchema: { message: z.string().max(10_000) },
      run: async ({ message }, { ctx }) => {
        const result = await elicit(ctx, message, {
          type: 'object',
          properties: {
            username: { type: 'string', description: "User's response" },
            email: { type: 'string', description: "User's email address" },
          },
          required: ['username', 'email'],
        });
        return text(`User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);
      },
    }),
    defineTool({
      name: 'test_elicitation_sep1034_defaults',
      description: 'Elicits with a default value for every primitive type (SEP-1034).',
      permission: call,
      inputSchema: {},
      run: async (_args, { ctx }) =>
        elicitedText(
          await elicit(ctx, 'Please review and update the form fields with defaults', {
            type: 'object',
            properties: {
              name: { type: 'string', description: 'User name', default: 'John Doe' },
              age: { type: 'integer', description: 'User age', default: 30 },
              score: { type: 'number', description: 'User score', default: 95.5 },
              status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
              verified: { type: 'boolean', description: 'Verification status', default: true },
            },
            required: [],
          }),
        ),
    }),
    defineTool({
      name: 'test_elicitation_sep1330_enums',
      description: 'Elicits with the five enum shapes (SEP-1330).',
      permission: call,
      inputSchema: {},
      run: async (_args, { ctx }) =>
        elicitedText(
          await elicit(ctx, 'Please select options from the enum fields', {
            type: 'object',
            properties: {
              untitledSingle: { type: 'string', description: 'Untitled single-select', enum: ['option1', 'option2', 'option3'] },
              titledSingle: {
                type: 'string',
                description: 'Titled single-select',
                oneOf: [
                  { const: 'value1', title: 'First Option' },
                  { const: 'value2', title: 'Second Option' },
                  { const: 'value3', title: 'Third Option' },
                ],
              },
              legacyEnum: {
                type: 'string',
                description: 'Legacy titled enum',
                enum: ['opt1', 'opt2', 'opt3'],
                enumNames: ['Option One', 'Option Two', 'Option Three'],
              },
              untitledMulti: {
                type: 'array',
                description: 'Untitled multi-select',
                items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
              },
              titledMulti: {
                type: 'array',
                description: 'Titled multi-select',
                items: {
                  anyOf: [
                    { const: 'value1', title: 'First Choice' },
                    { const: 'value2', title: 'Second Choice' },
                    { const: 'value3', title: 'Third Choice' },
                  ],
                },
              },
            },
            required: [],
          }),
        ),
    }),
  ];
}
