import { completable, InMemoryServerEventBus, ResourceTemplate, type McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { hasPermission, Permission } from '../core/permissions.js';
import { diagnosticTools } from './conformance-diagnostic-tools.js';
import { inputRequiredTools, renderInputRequiredPrompt } from './conformance-input-required.js';
import { conformanceTools } from './conformance-tools.js';
import { RED_PIXEL_PNG } from './conformance-media.js';
import { installTools, type HandlerContext, type InstallContext, type Toolset } from './toolset.js';
import { toolPermissionsOf } from './reference-toolset.js';

const PROMPTS = [
  'test_simple_prompt',
  'test_prompt_with_arguments',
  'test_prompt_with_embedded_resource',
  'test_prompt_with_image',
  'test_input_required_result_prompt',
];
const RESOURCES = ['test://static-text', 'test://static-binary', 'test://template/{id}/data', 'test://watched-resource'];

// Argument shapes built once: the SDK keeps them per registration, and every session registers them.
const WITH_ARGUMENTS = {
  arg1: completable(z.string().describe('First test argument'), () => []),
  arg2: z.string().describe('Second test argument'),
};
const WITH_RESOURCE = { resourceUri: z.string().describe('URI of the resource to embed') };

/**
 * Registers the conformance prompts and resources the principal may use: like
 * `installTools`, whatever its permissions (with overrides) do not grant is
 * never registered, so lists, reads and completions cannot reach it.
 */
function installPromptsAndResources(server: McpServer, context: InstallContext): void {
  const granted = context.authInfo?.scopes ?? [];
  const may = (group: 'prompts' | 'resources', name: string) => {
    const permission = context.policy[group][name];
    return permission !== undefined && hasPermission(granted, permission);
  };
  const user = (text: string) => ({ messages: [{ role: 'user' as const, content: { type: 'text' as const, text } }] });

  if (may('prompts', 'test_simple_prompt'))
    server.registerPrompt('test_simple_prompt', { description: 'A prompt without arguments' }, () =>
      user('This is a simple prompt for testing.'),
    );
  if (may('prompts', 'test_prompt_with_arguments'))
    server.registerPrompt(
      'test_prompt_with_arguments',
      { description: 'A prompt with two arguments', argsSchema: WITH_ARGUMENTS },
      (args) => user(`Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'`),
    );
  if (may('prompts', 'test_prompt_with_embedded_resource'))
    server.registerPrompt(
      'test_prompt_with_embedded_resource',
      { description: 'A prompt embedding a resource', argsSchema: WITH_RESOURCE },
      ({ resourceUri }) => ({
        messages: [
          {
            role: 'user',
            content: {
              type: 'resource',
              resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' },
            },
          },
          { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
        ],
      }),
    );
  if (may('prompts', 'test_prompt_with_image'))
    server.registerPrompt('test_prompt_with_image', { description: 'A prompt with an image' }, () => ({
      messages: [
        { role: 'user', content: { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' } },
        { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
      ],
    }));
  if (may('prompts', 'test_input_required_result_prompt'))
    // Registered without arguments, the prompt's callback gets the request context alone.
    server.registerPrompt('test_input_required_result_prompt', { description: 'A prompt that asks for a context before it renders' }, ((
      ctx: HandlerContext,
    ) => renderInputRequiredPrompt(ctx.mcpReq.inputResponses)) as never);

  if (may('resources', 'test://static-text'))
    server.registerResource(
      'static-text',
      'test://static-text',
      { description: 'A static text resource', mimeType: 'text/plain' },
      (uri) => ({
        contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }],
      }),
    );
  if (may('resources', 'test://static-binary'))
    server.registerResource(
      'static-binary',
      'test://static-binary',
      { description: 'A static PNG image', mimeType: 'image/png' },
      (uri) => ({
        contents: [{ uri: uri.href, mimeType: 'image/png', blob: RED_PIXEL_PNG }],
      }),
    );
  if (may('resources', 'test://template/{id}/data'))
    server.registerResource(
      'template-data',
      new ResourceTemplate('test://template/{id}/data', { list: undefined }),
      { description: 'Data for an id', mimeType: 'application/json' },
      (uri, { id }) => ({
        contents: [
          {
            uri: uri.href,
            mimeType: 'application/json',
            text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${String(id)}` }),
          },
        ],
      }),
    );
  if (may('resources', 'test://watched-resource')) {
    server.registerResource(
      'watched-resource',
      'test://watched-resource',
      { description: 'A resource one may subscribe to', mimeType: 'text/plain' },
      (uri) => ({
        contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Watched resource content' }],
      }),
    );
    // The resource never changes, so a subscription needs no state: accepting it is the contract.
    server.server.registerCapabilities({ resources: { subscribe: true } });
    if (context.era === 'legacy') {
      server.server.setRequestHandler('resources/subscribe', () => ({}));
      server.server.setRequestHandler('resources/unsubscribe', () => ({}));
    }
  }
}

/**
 * The toolset the MCP conformance suite's server scenarios expect
 * (`MCP_TOOLSET=conformance`), for both protocol eras: the `test_*` tools
 * (`tools:call`; the list-change triggers `sessions:manage`), prompts
 * (`prompts:get`) and resources (`resources:read`), declared in the policy
 * like any other so authorization, audit and limits apply to the suite too.
 * Its event bus carries the triggers' list changes to `subscriptions/listen`
 * streams.
 */
export function createConformanceToolset(): Toolset {
  const bus = new InMemoryServerEventBus();
  const tools = [...conformanceTools(), ...inputRequiredTools(), ...diagnosticTools(bus)];
  const policy = {
    tools: toolPermissionsOf(tools),
    prompts: Object.fromEntries(PROMPTS.map((name) => [name, Permission.PromptsGet])),
    resources: Object.fromEntries(RESOURCES.map((uri) => [uri, Permission.ResourcesRead])),
  };
  return {
    name: 'conformance',
    policy,
    tools,
    bus,
    install(server, context) {
      installTools(server, tools, context);
      installPromptsAndResources(server, context);
    },
  };
}
