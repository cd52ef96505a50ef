// Scenario 2: the same MCP server mcp-guard runs (the reference toolset on the SDK's
// streamable-HTTP transport, JSON responses) on express with express.json() and no security.
// BENCH_MODE=stateless (default): one SDK server per request. BENCH_MODE=stateful: one session.
import { randomUUID } from 'node:crypto';
import express from 'express';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createServerFactory } from '../../dist/mcp/server.js';
import { createReferenceToolset } from '../../dist/mcp/reference-toolset.js';
import { createTenantKv } from '../../dist/mcp/kv-store.js';
import { toAuthInfo } from '../../dist/core/principal.js';

const createServer = createServerFactory({ toolset: createReferenceToolset(createTenantKv()) });
// Tools are installed for a principal; the baseline acts as an admin and checks nothing.
const authInfo = toAuthInfo({ id: 'bench', role: 'admin', permissions: ['*'], authMethod: 'bearer' });
const stateful = process.env.BENCH_MODE === 'stateful';
const sessions = new Map();

const app = express();
app.use(express.json({ limit: '1mb' }));
app.all('/mcp', async (req, res) => {
  req.auth = authInfo;
  if (stateful) {
    let transport = sessions.get(req.headers['mcp-session-id']);
    if (!transport) {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: true,
        onsessioninitialized: (id) => sessions.set(id, transport),
      });
      await createServer(authInfo).connect(transport);
    }
    await transport.handleRequest(req, res, req.body);
    return;
  }
  const server = createServer(authInfo);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}/mcp`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
