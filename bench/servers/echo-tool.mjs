// The bare servers' only tool: the same `echo` as mcp-guard's reference toolset (same name, schema
// and result), registered on a plain SDK v2 McpServer. The schema is built once, at import, as any
// SDK user would write it; the SDK's default JSON-schema validator is left as it is.
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

const echoInput = z.object({ message: z.string().max(10_000) });

/** A new SDK server with the echo tool and nothing else. */
export function createEchoServer() {
  const server = new McpServer({ name: 'bare-echo', version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      title: 'Echo',
      description: 'Returns the message it is given.',
      inputSchema: echoInput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  );
  return server;
}

/** Listens on an ephemeral loopback port, prints the line the harness waits for, stops on SIGTERM. */
export function listen(server) {
  server.keepAliveTimeout = 5_000; // as mcp-guard's listener
  server.listen(0, '127.0.0.1', () => {
    console.log(`listening http://127.0.0.1:${server.address().port}/mcp`);
  });
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
