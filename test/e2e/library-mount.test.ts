import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { createSecurityStack, principalOf } from '../../src/index.js';
import { TEST_API_KEY, TEST_TOKEN, connectClient } from '../helpers/server.js';

/** A host application that owns its own routes and mounts mcp-guard under /api. */
function hostApp() {
  const stack = createSecurityStack({
    auth: { token: TEST_TOKEN, apiKeys: [{ name: 'reader', role: 'viewer', secret: TEST_API_KEY }] },
    tools: { whoami: 'tools:call' },
    allowedHosts: ['127.0.0.1', 'localhost'],
  });

  const app = express();
  app.get('/', (_req, res) => void res.send('host home'));

  // The MCP endpoint: stateless, one SDK server per request.
  app.post('/api/mcp', stack, async (req, res, next) => {
    try {
      const server = new McpServer({ name: 'host', version: '1.0.0' });
      server.registerTool('whoami', { inputSchema: { greeting: z.string().optional() } }, (_args, extra) => ({
        content: [{ type: 'text', text: principalOf(extra.authInfo)?.id ?? 'nobody' }],
      }));
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => void transport.close());
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (error) {
      next(error);
    }
  });

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

  it('serves the SDK client under the prefix and hands tools the principal', async () => {
    const { client, close } = await connectClient(`${base}/api/mcp`);
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: 'token:static' }]);
    await close();
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
