import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { inputRequired, acceptedContent } from '@modelcontextprotocol/server';
import { createSecurityStack } from '../../src/stack.js';
import { createMcpEndpoint } from '../../src/mcp/endpoint.js';
import { createServerFactory } from '../../src/mcp/server.js';
import { defineTool, installTools, type Toolset } from '../../src/mcp/toolset.js';
import { modernMeta, modernRequest, readRpc } from '../helpers/server.js';

const secret = (name: string) => `${name}-secret-0123456789abcdef0123456789abcdef`;
const CONFIRM = { type: 'object' as const, properties: { confirm: { type: 'boolean' as const } }, required: ['confirm'] };

/** A two-step tool: it asks for a confirmation, seals that the first step passed, then asks for a scope. */
const tools = [
  defineTool({
    name: 'wipe',
    description: 'Wipes after a confirmation and a scope.',
    permission: 'tools:call',
    inputSchema: {},
    run: async (_args, context) => {
      const step = context.state<{ step: string }>()?.step;
      if (step !== 'confirmed') {
        const confirmed = acceptedContent<{ confirm: boolean }>(context.ctx.mcpReq.inputResponses, 'confirm');
        if (confirmed?.confirm !== true) {
          return inputRequired({ inputRequests: { confirm: inputRequired.elicit({ message: 'Really?', requestedSchema: CONFIRM }) } });
        }
        return inputRequired({
          inputRequests: { scope: inputRequired.elicit({ message: 'Which scope?', requestedSchema: CONFIRM }) },
          requestState: await context.mintState({ step: 'confirmed' }),
        });
      }
      return { content: [{ type: 'text', text: `wiped by ${context.principalId}` }] };
    },
  }),
  defineTool({
    name: 'other',
    description: 'Accepts state of its own only.',
    permission: 'tools:call',
    inputSchema: {},
    run: (_args, context) => ({ content: [{ type: 'text', text: `other saw ${JSON.stringify(context.state() ?? null)}` }] }),
  }),
];
const toolset: Toolset = {
  name: 'test',
  policy: { tools: { wipe: 'tools:call', other: 'tools:call' }, prompts: {}, resources: {} },
  tools,
  install: (server, context) => installTools(server, tools, context),
};

describe('input_required request state through the stack', () => {
  let server: Server;
  let url: string;
  const endpoint = createMcpEndpoint({ mode: 'stateless', createServer: createServerFactory({ toolset }) });
  beforeAll(async () => {
    const stack = createSecurityStack({
      auth: {
        apiKeys: [
          { name: 'alice', role: 'operator', secret: secret('alice') },
          { name: 'mallory', role: 'operator', secret: secret('mallory') },
        ],
      },
      tools: toolset.policy.tools,
    });
    const app = express();
    app.all('/mcp', stack, endpoint.handler, stack.rpcErrorHandler);
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  });
  afterAll(async () => {
    await endpoint.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const call = async (who: string, name: string, extra: Record<string, unknown> = {}) => {
    const request = modernRequest('tools/call', { name, arguments: {}, _meta: modernMeta({ elicitation: {} }), ...extra });
    const response = await fetch(url, { method: 'POST', headers: { ...request.headers, 'X-API-Key': secret(who) }, body: request.body });
    const [body] = await readRpc<{ result?: Record<string, unknown>; error?: { code: number; message: string } }>(response);
    return { status: response.status, ...body };
  };
  const accept = (key: string) => ({ inputResponses: { [key]: { action: 'accept', content: { confirm: true } } } });

  /** Alice's sealed state after she confirmed the first step. */
  async function aliceConfirmed(): Promise<string> {
    expect((await call('alice', 'wipe')).result).toMatchObject({ resultType: 'input_required' });
    const second = await call('alice', 'wipe', accept('confirm'));
    expect(second.result).toMatchObject({ resultType: 'input_required', requestState: expect.any(String) });
    return second.result!.requestState as string;
  }

  it('completes a two-step flow for the principal it was sealed for', async () => {
    const state = await aliceConfirmed();
    const done = await call('alice', 'wipe', { requestState: state, ...accept('scope') });
    expect(done.result).toMatchObject({ content: [{ type: 'text', text: 'wiped by key:alice' }] });
  });

  it('refuses the state when another principal replays it', async () => {
    const state = await aliceConfirmed();
    const replayed = await call('mallory', 'wipe', { requestState: state, ...accept('scope') });
    expect(replayed.error).toMatchObject({ code: -32602, message: 'Invalid or expired requestState' });
  });

  it('refuses state altered to skip a step', async () => {
    const state = await aliceConfirmed();
    const [version, payload, mac] = state.split('.');
    const forged = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
    forged.p = { tool: 'wipe', state: { step: 'confirmed', scope: 'everything' } };
    const altered = [version, Buffer.from(JSON.stringify(forged)).toString('base64url'), mac].join('.');
    expect((await call('alice', 'wipe', { requestState: altered, ...accept('scope') })).error).toMatchObject({ code: -32602 });
    // Nor can a first-round caller forge a state of its own.
    expect((await call('alice', 'wipe', { requestState: 'v1.e30.AAAA', ...accept('scope') })).error).toMatchObject({ code: -32602 });
  });

  it('refuses the state of one tool replayed into another', async () => {
    const state = await aliceConfirmed();
    const other = await call('alice', 'other', { requestState: state });
    expect(other.result).toMatchObject({ isError: true, content: [{ text: 'The request state belongs to another tool' }] });
  });

  it('authenticates and authorizes the retried request afresh', async () => {
    const state = await aliceConfirmed();
    const request = modernRequest('tools/call', { name: 'wipe', arguments: {}, requestState: state, ...accept('scope') });
    expect((await fetch(url, { method: 'POST', headers: request.headers, body: request.body })).status).toBe(401);
  });
});

describe('input_required state across replicas', () => {
  const key = 'replica-shared-request-state-key-0123456789';
  const servers: Server[] = [];
  const endpoints: ReturnType<typeof createMcpEndpoint>[] = [];
  /** One replica: the stack and the endpoint, with a request-state key or a random one of its own. */
  async function replica(requestStateKey?: string): Promise<string> {
    const endpoint = createMcpEndpoint({
      mode: 'stateless',
      createServer: createServerFactory({ toolset, ...(requestStateKey ? { requestStateKey } : {}) }),
    });
    const stack = createSecurityStack({
      auth: { apiKeys: [{ name: 'alice', role: 'operator', secret: secret('alice') }] },
      tools: toolset.policy.tools,
    });
    const app = express();
    app.all('/mcp', stack, endpoint.handler, stack.rpcErrorHandler);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    servers.push(server);
    endpoints.push(endpoint);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  }
  afterAll(async () => {
    await Promise.all(endpoints.map((endpoint) => endpoint.close()));
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });
  const call = async (url: string, extra: Record<string, unknown> = {}) => {
    const request = modernRequest('tools/call', { name: 'wipe', arguments: {}, _meta: modernMeta({ elicitation: {} }), ...extra });
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...request.headers, 'X-API-Key': secret('alice') },
      body: request.body,
    });
    return (await readRpc<{ result?: Record<string, unknown>; error?: { code: number } }>(response))[0]!;
  };
  const confirm = { inputResponses: { confirm: { action: 'accept', content: { confirm: true } } } };
  const scope = { inputResponses: { scope: { action: 'accept', content: { confirm: true } } } };

  it('verify each other’s state when they share MCP_REQUEST_STATE_KEY', async () => {
    const [first, second] = [await replica(key), await replica(key)];
    const state = (await call(first!, confirm)).result!.requestState as string;
    expect((await call(second!, { requestState: state, ...scope })).result).toMatchObject({ content: [{ text: 'wiped by key:alice' }] });
  });

  it('refuse each other’s state with a random key each', async () => {
    const [first, second] = [await replica(), await replica()];
    const state = (await call(first!, confirm)).result!.requestState as string;
    expect((await call(second!, { requestState: state, ...scope })).error).toMatchObject({ code: -32602 });
  });
});
