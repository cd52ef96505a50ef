// Bare SDK v2 server, 2026-07-28 wire: the SDK's createMcpHandler (a server per request, envelope
// and routing headers checked by the SDK) adapted to node:http with toNodeHandler. 2025 traffic is
// refused as mcp-guard's own modern leg does. JSON responses, no security of any kind.
import { createServer } from 'node:http';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createEchoServer, listen } from './echo-tool.mjs';

const handler = createMcpHandler(() => createEchoServer(), {
  legacy: 'reject',
  responseMode: process.env.BENCH_JSON !== '0' ? 'json' : 'auto',
});
listen(createServer(toNodeHandler(handler)));
