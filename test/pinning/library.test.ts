import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { z } from 'zod';
import type { AuditEvent, AuditEventInput } from '../../src/audit/event.js';
import type { AuditLogger } from '../../src/audit/types.js';
import { TOOL_BLOCKED_RPC } from '../../src/errors/codes.js';
import { readServerDefinitions } from '../../src/pinning/server-definitions.js';
import { createSecurityStack, type SecurityStack } from '../../src/stack.js';
import { connectClient, connectModernClient, modernRequest, readRpc, tempDir, TEST_TOKEN } from '../helpers/server.js';
import { hidden } from './helpers.js';

interface ToolSpec {
  name: string;
  description: string;
  shape: Record<string, z.ZodType>;
}

/** An audit logger that keeps what it is given. */
function memoryAudit(): AuditLogger & { events: AuditEventInput[] } {
  const events: AuditEventInput[] = [];
  return {
    events,
    record: async (event) => {
      events.push(event);
      return { ...event, id: '', time: '' } as AuditEvent;
    },
    healthy: () => true,
    close: async () => undefined,
  };
}

/**
 * Library mode: the stack in front of the user's own SDK server (as docs/library.md mounts it),
 * with `pinning` reading the server's definitions by `readServerDefinitions`.
 */
describe('library mode: pinning as a stack option in front of your own server', () => {
  let tools: ToolSpec[];
  let dir: ReturnType<typeof tempDir>;
  let stack: SecurityStack;
  let audit: ReturnType<typeof memoryAudit>;
  let url: string;
  let close: () => void;
  const build = () => {
    const server = new McpServer({ name: 'notes', version: '1.0.0' });
    for (const tool of tools) {
      server.registerTool(tool.name, { description: tool.description, inputSchema: z.object(tool.shape) }, () => ({
        content: [{ type: 'text' as const, text: `called ${tool.name}` }],
      }));
    }
    return server;
  };

  beforeAll(async () => {
    tools = [
      { name: 'read_note', description: 'Reads a note.', shape: { id: z.string().max(32) } },
      { name: 'list_notes', description: 'Lists the notes.', shape: {} },
    ];
    dir = tempDir('mcp-guard-pin-lib-');
    audit = memoryAudit();
    stack = createSecurityStack({
      auth: { token: TEST_TOKEN },
      tools: { read_note: 'tools:call', list_notes: 'tools:call', delete_note: 'tools:call' },
      audit,
      pinning: { lockFile: join(dir.dir, 'tools.lock.json'), definitions: () => readServerDefinitions(build), pollMs: 50 },
    });
    const serve = toNodeHandler(createMcpHandler(() => build()));
    const app = express();
    app.all('/mcp', stack, (req, res) => void serve(req, res, req.body));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    close = () => {
      server.closeAllConnections();
      server.close();
    };
    await stack.pinning!.refresh();
  });
  afterAll(() => {
    stack?.pinning?.close();
    close?.();
    dir?.remove();
  });

  const names = async (era: 'modern' | 'legacy') => {
    const client = era === 'modern' ? await connectModernClient(url) : await connectClient(url);
    try {
      return (await client.client.listTools()).tools.map((tool) => tool.name).sort();
    } finally {
      await client.close();
    }
  };
  const call = async (name: string) => {
    const response = await fetch(url, {
      method: 'POST',
      ...modernRequest('tools/call', { name, arguments: { id: 'a' } }, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } }),
    });
    return {
      status: response.status,
      body: (
        await readRpc<{
          result?: { content: Array<{ text: string }> };
          error?: { code: number; message: string; data?: Record<string, unknown> };
        }>(response)
      )[0]!,
    };
  };

  it('pins the server’s definitions on first use and serves them', async () => {
    expect(existsSync(join(dir.dir, 'tools.lock.json'))).toBe(true);
    const lock = JSON.parse(readFileSync(join(dir.dir, 'tools.lock.json'), 'utf8'));
    expect(Object.keys(lock.upstreams.local.tools).sort()).toEqual(['list_notes', 'read_note']);
    expect(await names('modern')).toEqual(['list_notes', 'read_note']);
    expect(await names('legacy')).toEqual(['list_notes', 'read_note']);
    expect((await call('read_note')).body.result?.content[0]?.text).toBe('called read_note');
  });

  it('leaves a changed tool out of tools/list in both eras, refuses its calls with 403 and -32019, and approve() unblocks it', async () => {
    tools = tools.map((tool) =>
      tool.name === 'read_note' ? { ...tool, description: `Reads a note.${hidden('and its neighbours')}` } : tool,
    );
    tools.push({ name: 'delete_note', description: 'Deletes a note.', shape: { id: z.string() } });
    await stack.pinning!.refresh();
    expect(await names('modern')).toEqual(['list_notes']);
    expect(await names('legacy')).toEqual(['list_notes']);
    const refused = await call('read_note');
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: TOOL_BLOCKED_RPC, data: { code: 'tool_blocked', status: 'drifted' } });
    expect((await call('delete_note')).body.error).toMatchObject({ code: TOOL_BLOCKED_RPC, data: { status: 'new' } });
    expect(audit.events).toContainEqual(
      expect.objectContaining({
        type: 'tool.drift',
        details: expect.objectContaining({ upstream: 'local', name: 'read_note', blocked: true }),
      }),
    );
    expect(audit.events).toContainEqual(
      expect.objectContaining({ type: 'tool.blocked', actor: expect.objectContaining({ principalId: expect.any(String) }) }),
    );

    const diff = (await stack.pinning!.diff()).join('\n');
    expect(diff).toContain('~ tool read_note: changed since it was pinned (blocked)');
    expect(diff).toContain('screening: tag_characters at description (hidden text: "and its neighbours")');
    expect(diff).toContain('+ tool delete_note: not in the lock (blocked)');

    const approved = await stack.pinning!.approve(['read_note', 'delete_note'], { by: 'carol' });
    expect(approved.map((result) => result.name)).toEqual(['read_note', 'delete_note']);
    expect(audit.events).toContainEqual(
      expect.objectContaining({
        type: 'tool.approved',
        actor: expect.objectContaining({ principalId: 'carol' }),
        details: expect.objectContaining({ name: 'read_note', by: 'carol' }),
      }),
    );
    expect(await names('modern')).toEqual(['delete_note', 'list_notes', 'read_note']);
    expect((await call('read_note')).body.result?.content[0]?.text).toBe('called read_note');
    expect(await stack.pinning!.diff()).toEqual([]);
  });

  it('refuses every call in enforce when the server’s definitions cannot be read (fail closed)', async () => {
    const failing = createSecurityStack({
      auth: { token: TEST_TOKEN },
      tools: { read_note: 'tools:call' },
      pinning: {
        lockFile: join(dir.dir, 'other.lock.json'),
        definitions: () => {
          throw new Error('the database is down');
        },
      },
    });
    const app = express();
    app.all('/mcp', failing, (_req, res) => void res.json({ jsonrpc: '2.0', id: 1, result: { content: [] } }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, {
        method: 'POST',
        ...modernRequest('tools/call', { name: 'read_note', arguments: {} }, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } }),
      });
      expect(response.status).toBe(403);
      const [body] = await readRpc<{ error: { code: number; message: string } }>(response);
      expect(body!.error.code).toBe(TOOL_BLOCKED_RPC);
      expect(body!.error.message).not.toContain('database');
    } finally {
      failing.pinning!.close();
      server.close();
    }
  });

  it('refuses options it does not know, at creation', () => {
    expect(() =>
      createSecurityStack({
        auth: { token: TEST_TOKEN },
        tools: {},
        pinning: {
          lockFile: join(dir.dir, 'x.json'),
          definitions: () => ({ tools: [], prompts: [], resourceTemplates: [] }),
          mod: 'warn',
        } as never,
      }),
    ).toThrow(/pinning: invalid options: \(options\): Unrecognized key/);
  });
});
