import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { MCP_POST_HEADERS, TEST_TOKEN, connectClient, readRpc, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const TOOLS_ONLY_KEY = 'tools-only-secret-0123456789abcdef0123456789abcdef';
const OPERATOR_KEY = 'operator-secret-0123456789abcdef0123456789abcdef';
const call = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });

interface RpcReply {
  status: number;
  id?: unknown;
  result?: { resultType?: string; requestState?: string; inputRequests?: Record<string, unknown>; isError?: boolean; content?: unknown[] };
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

/**
 * One 2026-07-28 request over raw HTTP, as the conformance suite sends it: the
 * `_meta` envelope, the routing headers, and the caller's credential header.
 */
async function modern(
  mcpUrl: string,
  credential: Record<string, string>,
  method: string,
  params: Record<string, unknown>,
  capabilities: Record<string, unknown> = { elicitation: {}, sampling: {}, roots: {} },
  extraHeaders: Record<string, string> = {},
): Promise<RpcReply> {
  const name = typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined;
  const response = await fetch(mcpUrl, {
    method: 'POST',
    headers: {
      ...MCP_POST_HEADERS,
      ...credential,
      'MCP-Protocol-Version': '2026-07-28',
      'Mcp-Method': method,
      ...(name !== undefined ? { 'Mcp-Name': name } : {}),
      ...extraHeaders,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method,
      params: {
        ...params,
        _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': capabilities },
      },
    }),
  });
  const [message] = await readRpc<Omit<RpcReply, 'status'>>(response);
  return { status: response.status, ...message };
}

const ADMIN = { Authorization: `Bearer ${TEST_TOKEN}` };
const OPERATOR = { 'X-API-Key': OPERATOR_KEY };
const TOOLS_ONLY = { 'X-API-Key': TOOLS_ONLY_KEY };
const confirm = { confirm: { action: 'accept', content: { ok: true } } };
const callTool = (name: string, extra: Record<string, unknown> = {}) => ({ name, arguments: {}, ...extra });

describe('the conformance toolset', () => {
  let server: TestServer;
  const rbac = tempDir('mcp-guard-rbac-');
  beforeAll(async () => {
    // A role that may list everything but use only tools: prompts and resources must stay out of its reach.
    const file = join(rbac.dir, 'rbac.json');
    writeFileSync(file, JSON.stringify({ roles: { 'tools-only': ['tools:list', 'tools:call', 'prompts:list', 'resources:list'] } }));
    server = await startTestServer({
      MCP_TOOLSET: 'conformance',
      MCP_RBAC_FILE: file,
      MCP_API_KEYS: `tools-only:tools-only:${TOOLS_ONLY_KEY},operator:operator:${OPERATOR_KEY}`,
      MCP_SESSION_MODE: 'stateless',
      MCP_RATE_LIMIT: '10000',
    });
  });
  afterAll(async () => {
    await server.stop();
    rbac.remove();
  });

  it('offers the suite its tools, prompts, resources and resource template', async () => {
    const { client, close } = await connectClient(server.mcpUrl);
    try {
      const tools = (await client.listTools()).tools.map((tool) => tool.name);
      expect(tools).toEqual(expect.arrayContaining(['test_simple_text', 'test_sampling', 'test_elicitation_sep1330_enums']));
      expect((await client.listPrompts()).prompts).toHaveLength(5);
      expect((await client.listResources()).resources.map((resource) => resource.uri)).toContain('test://watched-resource');
      const read = await client.readResource({ uri: 'test://template/42/data' });
      expect(JSON.parse((read.contents[0] as { text: string }).text)).toEqual({ id: '42', templateTest: true, data: 'Data for ID: 42' });
      expect(await client.callTool({ name: 'test_error_handling', arguments: {} })).toMatchObject({ isError: true });
    } finally {
      await close();
    }
  });

  it('audits resource reads and prompt gets like tool calls', async () => {
    const { client, close } = await connectClient(server.mcpUrl);
    try {
      await client.readResource({ uri: 'test://static-text' });
      const prompt = (await client.listPrompts()).prompts[0]!;
      await client
        .getPrompt({ name: prompt.name, arguments: prompt.arguments?.length ? { arg1: 'a', arg2: 'b' } : {} })
        .catch(() => undefined);
    } finally {
      await close();
    }
    const events = readFileSync(join(server.auditDir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; action: string });
    expect(events).toContainEqual(expect.objectContaining({ type: 'resource.read', action: 'resources/read test://static-text' }));
    expect(events.some((event) => event.type === 'prompt.get')).toBe(true);
  });

  it('registers no prompt or resource for a principal without their permissions and refuses them', async () => {
    const { client, close } = await connectClient(server.mcpUrl, { 'X-API-Key': TOOLS_ONLY_KEY });
    try {
      // Nothing registered means no capability announced and no handler to reach.
      expect(client.getServerCapabilities()?.prompts).toBeUndefined();
      expect(client.getServerCapabilities()?.resources).toBeUndefined();
      await expect(client.getPrompt({ name: 'test_simple_prompt' })).rejects.toThrow();
      await expect(client.readResource({ uri: 'test://template/1/data' })).rejects.toThrow();
      expect((await client.callTool({ name: 'test_simple_text', arguments: {} })).content).toHaveLength(1);
    } finally {
      await close();
    }
  });
});

describe('the conformance toolset over the 2026-07-28 wire', () => {
  let server: TestServer;
  const rbac = tempDir('mcp-guard-rbac-');
  beforeAll(async () => {
    const file = join(rbac.dir, 'rbac.json');
    writeFileSync(file, JSON.stringify({ roles: { 'tools-only': ['tools:list', 'tools:call'] } }));
    server = await startTestServer({
      MCP_TOOLSET: 'conformance',
      MCP_RBAC_FILE: file,
      MCP_API_KEYS: `tools-only:tools-only:${TOOLS_ONLY_KEY},operator:operator:${OPERATOR_KEY}`,
      MCP_RATE_LIMIT: '10000',
    });
  });
  afterAll(async () => {
    await server.stop();
    rbac.remove();
  });

  const first = async (credential: Record<string, string>, tool: string) => {
    const reply = await modern(server.mcpUrl, credential, 'tools/call', callTool(tool));
    expect(reply.result?.resultType).toBe('input_required');
    expect(typeof reply.result?.requestState).toBe('string');
    return reply.result!.requestState!;
  };

  it('completes an input_required round trip with the sealed state and the answer back', async () => {
    const requestState = await first(ADMIN, 'test_input_required_result_request_state');
    const done = await modern(
      server.mcpUrl,
      ADMIN,
      'tools/call',
      callTool('test_input_required_result_request_state', { requestState, inputResponses: confirm }),
    );
    expect(done.result?.resultType).not.toBe('input_required');
    expect(JSON.stringify(done.result?.content)).toContain('state-ok');
  });

  it('refuses request state replayed by another principal before the tool runs', async () => {
    const requestState = await first(ADMIN, 'test_input_required_result_request_state');
    const replay = await modern(
      server.mcpUrl,
      OPERATOR,
      'tools/call',
      callTool('test_input_required_result_request_state', { requestState, inputResponses: confirm }),
    );
    expect(replay.result).toBeUndefined();
    expect(replay.error?.code).toBe(-32602);
    expect(replay.id).toBe(7);
  });

  it('authorizes the retried request afresh: a principal without the tool is refused whatever state it carries', async () => {
    const requestState = await first(ADMIN, 'test_input_required_result_tampered_state');
    const anonymous = await modern(
      server.mcpUrl,
      {},
      'tools/call',
      callTool('test_input_required_result_tampered_state', { requestState, inputResponses: confirm }),
    );
    expect(anonymous.status).toBe(401);
    const noPrompts = await modern(server.mcpUrl, TOOLS_ONLY, 'prompts/get', { name: 'test_input_required_result_prompt', requestState });
    expect(noPrompts.status).toBe(403);
  });

  it('refuses request state minted for another tool, so a step cannot be borrowed', async () => {
    const requestState = await first(ADMIN, 'test_input_required_result_tampered_state');
    const borrowed = await modern(
      server.mcpUrl,
      ADMIN,
      'tools/call',
      callTool('test_input_required_result_request_state', { requestState, inputResponses: confirm }),
    );
    expect(borrowed.result?.isError).toBe(true);
    expect(JSON.stringify(borrowed.result?.content)).not.toContain('state-ok');
  });

  it('refuses altered request state with -32602', async () => {
    const requestState = await first(ADMIN, 'test_input_required_result_tampered_state');
    for (const altered of [`${requestState}-TAMPERED`, `x${requestState.slice(1)}`, requestState.split('').reverse().join('')]) {
      const reply = await modern(
        server.mcpUrl,
        ADMIN,
        'tools/call',
        callTool('test_input_required_result_tampered_state', { requestState: altered, inputResponses: confirm }),
      );
      expect(reply.error?.code).toBe(-32602);
    }
  });

  it("does not let an earlier round's state skip a step of a multi-round tool", async () => {
    const round1 = await first(ADMIN, 'test_input_required_result_multi_round');
    // Answering step 2 with the state of round 1 asks for step 1 again instead of completing.
    const skipped = await modern(
      server.mcpUrl,
      ADMIN,
      'tools/call',
      callTool('test_input_required_result_multi_round', {
        requestState: round1,
        inputResponses: { step2: { action: 'accept', content: { color: 'blue' } } },
      }),
    );
    expect(skipped.result?.resultType).toBe('input_required');
    expect(Object.keys(skipped.result?.inputRequests ?? {})).toEqual(['step1']);
  });

  it('asks again for an answer that does not fit its schema instead of using it', async () => {
    const reply = await modern(
      server.mcpUrl,
      ADMIN,
      'tools/call',
      callTool('test_input_required_result_elicitation', { inputResponses: { user_name: { action: 'accept', content: { name: 42 } } } }),
    );
    expect(reply.result?.resultType).toBe('input_required');
  });

  it('answers -32021 with 400 when the tool needs a client capability the request did not declare', async () => {
    const reply = await modern(server.mcpUrl, ADMIN, 'tools/call', callTool('test_missing_capability'), {});
    expect(reply.status).toBe(400);
    expect(reply.error?.code).toBe(-32021);
    expect(reply.error?.data?.requiredCapabilities).toEqual({ sampling: {} });
  });

  it('checks the Mcp-Param header of test_param_header against the body', async () => {
    const args = { name: 'test_param_header', arguments: { region: 'eu-west' } };
    const ok = await modern(server.mcpUrl, ADMIN, 'tools/call', args, undefined, { 'Mcp-Param-Region': 'eu-west' });
    expect(ok.status).toBe(200);
    const smuggled = await modern(server.mcpUrl, ADMIN, 'tools/call', args, undefined, { 'Mcp-Param-Region': 'us-east' });
    expect([smuggled.status, smuggled.error?.code]).toEqual([400, -32020]);
  });

  it('validates json_schema_2020_12_tool arguments against its JSON Schema', async () => {
    const ok = await modern(server.mcpUrl, ADMIN, 'tools/call', {
      name: 'json_schema_2020_12_tool',
      arguments: { name: 'Ada', email: 'ada@example.org' },
    });
    expect(ok.result?.isError).toBeFalsy();
    const extra = await modern(server.mcpUrl, ADMIN, 'tools/call', {
      name: 'json_schema_2020_12_tool',
      arguments: { email: 'a@b.c', role: 'admin' },
    });
    const missing = await modern(server.mcpUrl, ADMIN, 'tools/call', {
      name: 'json_schema_2020_12_tool',
      arguments: { contactMethod: 'phone', email: 'a@b.c' },
    });
    expect(JSON.stringify(extra.result)).toContain('must NOT have additional properties');
    expect(JSON.stringify(missing.result)).toContain('must match \\"then\\" schema');
    for (const refused of [extra, missing]) expect(refused.result?.isError).toBe(true);
  });

  it('shows the list-change triggers only to a principal that may manage sessions, and refuses them to others', async () => {
    const names = async (credential: Record<string, string>) =>
      ((await modern(server.mcpUrl, credential, 'tools/list', {})).result as { tools?: Array<{ name: string }> } | undefined)?.tools?.map(
        (tool) => tool.name,
      ) ?? [];
    expect(await names(ADMIN)).toEqual(expect.arrayContaining(['test_trigger_tool_change', 'test_input_required_result_elicitation']));
    const operator = await names(OPERATOR);
    expect(operator).toContain('test_input_required_result_elicitation');
    expect(operator).not.toContain('test_trigger_tool_change');
    expect((await modern(server.mcpUrl, OPERATOR, 'tools/call', callTool('test_trigger_tool_change'))).status).toBe(403);
  });

  it('answers an undeclared resource as not found, with its URI', async () => {
    const reply = await modern(server.mcpUrl, ADMIN, 'resources/read', { uri: 'test://no-such-resource' });
    expect(reply.error).toMatchObject({ code: -32602, message: 'Resource not found', data: { uri: 'test://no-such-resource' } });
    expect(reply.id).toBe(7);
  });

  it('serves the same tools to a 2025 client, whose session gets real elicitation requests, state included', async () => {
    const client = new Client({ name: 'legacy', version: '1' }, { capabilities: { elicitation: {} } });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      asked.push(request.params.message);
      const ok = request.params.message === 'Please confirm';
      return { action: 'accept', content: ok ? { ok: true } : { name: 'Ada' } };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl), { requestInit: { headers: ADMIN } }));
    try {
      const hello = await client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} });
      expect(JSON.stringify(hello.content)).toContain('Hello, Ada!');
      const stateful = await client.callTool({ name: 'test_input_required_result_request_state', arguments: {} });
      expect(JSON.stringify(stateful.content)).toContain('state-ok');
      expect(asked).toEqual(['What is your name?', 'Please confirm']);
    } finally {
      await client.close();
    }
  });

  it('audits an input_required round as such', async () => {
    await first(OPERATOR, 'test_input_required_result_multi_round');
    const events = readFileSync(join(server.auditDir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; action: string; outcome: { status: string; code?: string } });
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'tool.call',
        action: expect.stringContaining('test_input_required_result_multi_round'),
        outcome: expect.objectContaining({ status: 'success', code: 'input_required' }),
      }),
    );
  });
});

describe('the per-IP rate limit with the conformance toolset', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      MCP_TOOLSET: 'conformance',
      MCP_SESSION_MODE: 'stateless',
      MCP_RATE_LIMIT: '3',
      MCP_RATE_LIMIT_WINDOW: '1m',
    });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('still answers 429 to the tool call over the limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const response = await fetch(server.mcpUrl, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, Authorization: `Bearer test-token-0123456789abcdef0123456789abcdef` },
        body: JSON.stringify(call(i, 'test_simple_text')),
      });
      statuses.push(response.status);
      await readRpc(response).catch(() => []);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});
