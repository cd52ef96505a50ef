import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { z } from 'zod';
import { createSecurityStack, principalOf } from '../../src/index.js';
import { TEST_API_KEY, TEST_TOKEN, connectClient, connectModernClient } from '../helpers/server.js';

/** A host application that owns its own routes and mounts mcp-guard under /api. */
function hostApp() {
  const stack = createSecurityStack({
    auth: { token: TEST_TOKEN, apiKeys: [{ name: 'reader', role: 'viewer', secret: TEST_API_KEY }] },
    tools: { whoami: 'tools:call' },
    allowedHosts: ['127.0.0.1', 'localhost'],
  });

  const app = express();
  app.get('/', (_req, res) => void res.send('host home'));

  // The host's MCP server on SDK v2: a fresh server per request, for both protocol eras.
  const mcp = createMcpHandler(({ authInfo }) => {
    const server = new McpServer({ name: 'host', version: '1.0.0' });
    server.registerTool('whoami', { inputSchema: z.object({ greeting: z.string().optional() }) }, () => ({
      content: [{ type: 'text', text: principalOf(authInfo)?.id ?? 'nobody' }],
    }));
    return server;
  });
  const serve = toNodeHandler(mcp);
  // The stack answers its own refusals; the SDK's handler answers everything after it.
  app.all('/api/mcp', stack, (req, res) => void serve(req, res, req.body));

  // The host's own route, guarded by the same rules.
  app.get(
    '/api/audit',
    ...stack.perimeter,
    stack.authenticate,
    stack.requirePermission('audit:read'),
    (_req: Request, res: Response) => void res.json({ events: [] }),
    stack.jsonErrorHandler,
  );
  return app;
}

describe('mcp-guard mounted into an existing Express app', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = hostApp().listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('leaves the host routes alone', async () => {
    const response = await fetch(`${base}/`);
    expect(await response.text()).toBe('host home');
  });

  it('serves the SDK clients of both eras under the prefix and hands tools the principal', async () => {
    const legacy = await connectClient(`${base}/api/mcp`);
    expect((await legacy.client.callTool({ name: 'whoami', arguments: {} })).content).toEqual([{ type: 'text', text: 'token:static' }]);
    await legacy.close();
    const modern = await connectModernClient(`${base}/api/mcp`, { 'X-API-Key': TEST_API_KEY });
    expect(modern.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    expect((await modern.client.callTool({ name: 'whoami', arguments: {} })).content).toEqual([{ type: 'text', text: 'key:reader' }]);
    await modern.close();
  });

  it('refuses the MCP endpoint without a credential', async () => {
    const response = await fetch(`${base}/api/mcp`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('guards the host route with requirePermission', async () => {
    expect((await fetch(`${base}/api/audit`)).status).toBe(401);
    const viewer = await fetch(`${base}/api/audit`, { headers: { 'X-API-Key': TEST_API_KEY } });
    expect(viewer.status).toBe(403);
    expect(await viewer.json()).toEqual({ error: { code: 'insufficient_scope', message: expect.any(String) } });
    const admin = await fetch(`${base}/api/audit`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } });
    expect(admin.status).toBe(200);
  });
});
