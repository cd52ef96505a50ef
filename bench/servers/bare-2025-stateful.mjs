// Bare SDK v2 server, 2025 wire, stateful: `initialize` opens a session (one McpServer and one
// NodeStreamableHTTPServerTransport), later requests name it in Mcp-Session-Id. JSON responses,
// SSE GET streams as the transport serves them, no security of any kind.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { createEchoServer, listen } from './echo-tool.mjs';

const json = process.env.BENCH_JSON !== '0';
const sessions = new Map();

listen(
  createServer(async (req, res) => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (id !== undefined && !transport) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
      return;
    }
    if (!transport) {
      // No session yet: the transport itself refuses anything but initialize.
      const created = new NodeStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: json,
        onsessioninitialized: (sessionId) => sessions.set(sessionId, created),
        onsessionclosed: (sessionId) => sessions.delete(sessionId),
      });
      created.onclose = () => {
        if (created.sessionId) sessions.delete(created.sessionId);
      };
      await createEchoServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  }),
);
