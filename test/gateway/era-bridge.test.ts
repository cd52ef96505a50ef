import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { freePort } from '../docs/examples.js';
import { modernRequest, readRpc, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { EVERYTHING, startModernUpstream, startTestGateway, UPSTREAM_TOKEN, type TestGateway } from './helpers.js';

const AUTH = { Authorization: `Bearer ${TEST_TOKEN}` };
const OTHER_KEY = 'other-key-0123456789abcdef0123456789abcdef0';
const OPEN = { default: { tools: 'tools:call', prompts: 'prompts:get', resources: 'resources:read' } };

/** A 2026-07-28 client that answers sampling and elicitation itself. */
async function modernClient(url: string, capabilities: Record<string, unknown> = { sampling: {}, elicitation: { form: {} }, roots: {} }) {
  const client = new Client({ name: 'bridge-test', version: '1' }, { capabilities, versionNegotiation: { mode: 'auto' } });
  if (capabilities.sampling)
    client.setRequestHandler('sampling/createMessage', async () => ({
      model: 'test-model',
      role: 'assistant',
      content: { type: 'text', text: 'sampled: Paris' },
    }));
  if (capabilities.elicitation)
    client.setRequestHandler('elicitation/create', async () => ({
      action: 'accept',
      content: { name: 'Ada', check: true, color: 'blue' },
    }));
  if (capabilities.roots) client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }));
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: AUTH } }));
  expect(client.getProtocolEra()).toBe('modern');
  return client;
}

/** A 2025 client (SDK v1) that answers sampling and elicitation over its session. */
async function legacyClient(url: string) {
  const client = new LegacyClient({ name: 'bridge-test', version: '1' }, { capabilities: { sampling: {}, elicitation: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({
    model: 'test-model',
    role: 'assistant',
    content: { type: 'text', text: 'Paris' },
  }));
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { name: 'Ada', check: true } }));
  await client.connect(new LegacyTransport(new URL(url), { requestInit: { headers: AUTH } }));
  return client;
}

const text = (result: object) => JSON.stringify((result as { content?: unknown }).content);

describe('era bridging', () => {
  let modernUpstream: TestServer;
  let everythingHttp: ChildProcess;
  let gateway: TestGateway;
  beforeAll(async () => {
    modernUpstream = await startModernUpstream();
    const port = await freePort();
    everythingHttp = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
      env: { PATH: process.env.PATH, PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve) =>
      everythingHttp.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve()),
    );
    gateway = await startTestGateway(
      {
        // Pinned: every client, of either era, reaches it on 2026-07-28, so a 2025 client crosses the bridge.
        modern: {
          url: modernUpstream.mcpUrl,
          protocol: '2026-07-28',
          auth: { type: 'bearer', token: { env: 'UPSTREAM_TOKEN' } },
          policy: OPEN,
        },
        // Not pinned: each client reaches it in its own era.
        both: { url: modernUpstream.mcpUrl, auth: { type: 'bearer', token: { env: 'UPSTREAM_TOKEN' } }, policy: OPEN },
        stdio2025: { command: process.execPath, args: [EVERYTHING, 'stdio'], policy: OPEN },
        http2025: { url: `http://127.0.0.1:${port}/mcp`, policy: OPEN },
      },
      { MCP_API_KEYS: `other:operator:${OTHER_KEY}` },
      { UPSTREAM_TOKEN },
    );
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
    everythingHttp?.kill();
    await modernUpstream?.stop();
  });

  it('serves each client through a connection of its own era when the upstream speaks both (nothing to bridge)', async () => {
    const legacy = await legacyClient(gateway.mcpUrl('both'));
    const modern = await modernClient(gateway.mcpUrl('both'));
    try {
      await legacy.callTool({ name: 'test_simple_text', arguments: {} });
      await modern.callTool({ name: 'test_image_content', arguments: {} });
    } finally {
      await legacy.close();
      await modern.close();
    }
    const events = readdirSync(modernUpstream.auditDir)
      .flatMap((name) => readFileSync(join(modernUpstream.auditDir, name), 'utf8').split('\n'))
      .filter((line) => line.includes('"type":"tool.call"'))
      .map((line) => JSON.parse(line) as { details: { tool: string; era: string } });
    expect(events.find((event) => event.details.tool === 'test_simple_text')?.details.era).toBe('legacy');
    expect(events.find((event) => event.details.tool === 'test_image_content')?.details.era).toBe('modern');
  });

  it.each(['stdio2025', 'http2025'])(
    'lets a 2026-07-28 client answer a 2025 upstream’s sampling request as an input_required round (%s)',
    async (name) => {
      const client = await modernClient(gateway.mcpUrl(name));
      try {
        const result = await client.callTool({
          name: 'trigger-sampling-request',
          arguments: { prompt: 'Capital of France?', maxTokens: 10 },
        });
        expect(text(result)).toContain('LLM sampling result');
        expect(text(result)).toContain('sampled: Paris');
      } finally {
        await client.close();
      }
    },
  );

  it('lets a 2026-07-28 client answer a 2025 upstream’s elicitation', async () => {
    const client = await modernClient(gateway.mcpUrl('http2025'));
    try {
      const result = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
      expect(text(result)).toContain('Ada');
    } finally {
      await client.close();
    }
  });

  it('lets a 2025 client answer a 2025 upstream’s sampling over its own session', async () => {
    const client = await legacyClient(gateway.mcpUrl('stdio2025'));
    try {
      const result = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'Capital?', maxTokens: 10 } });
      expect(text(result)).toContain('Paris');
    } finally {
      await client.close();
    }
  });

  it('lets a 2025 client answer a 2026-07-28 upstream’s input_required (elicitation, sampling) over its session', async () => {
    const client = await legacyClient(gateway.mcpUrl('modern'));
    try {
      expect(text(await client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} }))).toContain('Hello, Ada!');
      expect(text(await client.callTool({ name: 'test_input_required_result_sampling', arguments: {} }))).toContain('Paris');
    } finally {
      await client.close();
    }
  });

  it('passes a 2026-07-28 upstream’s input_required rounds (with request state) through to a 2026-07-28 client', async () => {
    const client = await modernClient(gateway.mcpUrl('modern'));
    try {
      expect(text(await client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} }))).toContain('Hello, Ada!');
      expect(text(await client.callTool({ name: 'test_input_required_result_list_roots', arguments: {} }))).toContain('file:///work');
      expect(text(await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} }))).toContain(
        'Multi-round complete: Ada likes blue',
      );
    } finally {
      await client.close();
    }
  });

  it('never lets another principal answer, or continue, a call held for a principal’s input round', async () => {
    type Answer = {
      result?: { resultType?: string; requestState?: string; inputRequests?: Record<string, unknown>; content?: unknown };
      error?: { code: number };
    };
    const call = async (headers: Record<string, string>, extra: Record<string, unknown> = {}) => {
      const request = modernRequest(
        'tools/call',
        {
          name: 'trigger-sampling-request',
          arguments: { prompt: 'p', maxTokens: 5 },
          _meta: { 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } },
          ...extra,
        },
        { headers },
      );
      const response = await fetch(gateway.mcpUrl('http2025'), { method: 'POST', headers: request.headers, body: request.body });
      return (await readRpc<Answer>(response))[0]!;
    };
    const first = await call(AUTH);
    expect(first.result?.resultType).toBe('input_required');
    const [key] = Object.keys(first.result!.inputRequests!);
    const answer = {
      inputResponses: { [key!]: { model: 'm', role: 'assistant', content: { type: 'text', text: 'stolen' } } },
      requestState: first.result!.requestState,
    };
    const other = await call({ 'X-API-Key': OTHER_KEY }, answer);
    expect(other.error?.code).toBe(-32602);
    const owner = await call(AUTH, {
      ...answer,
      inputResponses: { [key!]: { model: 'm', role: 'assistant', content: { type: 'text', text: 'mine' } } },
    });
    expect(JSON.stringify(owner.result?.content)).toContain('mine');
  });

  it('answers a 2026-07-28 client that lacks the capability a 2025 upstream’s request needs with -32021, and cancels the call', async () => {
    const client = await modernClient(gateway.mcpUrl('stdio2025'), {});
    try {
      await expect(client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'x', maxTokens: 5 } })).rejects.toMatchObject({
        code: -32021,
      });
    } finally {
      await client.close();
    }
  });

  it('refuses, for a 2025 client without the capability, the upstream’s request, so the call ends instead of hanging', async () => {
    const client = new LegacyClient({ name: 'no-sampling', version: '1' }, { capabilities: {} });
    await client.connect(new LegacyTransport(new URL(gateway.mcpUrl('http2025')), { requestInit: { headers: AUTH } }));
    try {
      const result = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'x', maxTokens: 5 } });
      expect(result.isError).toBe(true);
    } finally {
      await client.close();
    }
  });

  it.each([
    ['a 2026-07-28 client', 'modern'],
    ['a 2025 client', 'legacy'],
  ])('forwards a 2025 upstream’s progress notifications to %s', async (_label, era) => {
    const progress: number[] = [];
    const call = { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } };
    if (era === 'modern') {
      const client = await modernClient(gateway.mcpUrl('stdio2025'));
      // The upstream may ask for roots in the middle of the call (the only one in flight on its channel):
      // the client's SDK then reports its own input rounds as progress too, which are not the upstream's.
      await client.callTool(call, {
        onprogress: (update) => {
          if (!update.message?.startsWith('Fulfilling input required')) progress.push(update.progress);
        },
      });
      await client.close();
    } else {
      const client = await legacyClient(gateway.mcpUrl('stdio2025'));
      await client.callTool(call, undefined, { onprogress: (update) => progress.push(update.progress) });
      await client.close();
    }
    expect(progress).toEqual([1, 2, 3]);
  });
});
