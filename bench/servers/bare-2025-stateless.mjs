// Bare SDK v2 server, 2025 wire, stateless: a new McpServer and NodeStreamableHTTPServerTransport
// per request (the SDK's stateless idiom), JSON responses, no security of any kind.
import { createServer } from 'node:http';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { createEchoServer, listen } from './echo-tool.mjs';

const json = process.env.BENCH_JSON !== '0';

listen(
  createServer(async (req, res) => {
    const server = createEchoServer();
    const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: json });
    res.once('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  }),
);
