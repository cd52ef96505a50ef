import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the hostile upstream saw. */
export interface HostileLog {
  /** Methods of every JSON-RPC message received, in order. */
  methods: string[];
  /** Params of every `notifications/cancelled` received. */
  cancelled: Array<{ requestId?: unknown }>;
  /** Streams the upstream held open that the gateway closed. */
  closedStreams: number;
}

const TOOLS = ['slow', 'garbage', 'huge', 'endless', 'endless_event', 'crash', 'echo_headers', 'ok'].map((name) => ({
  name,
  description: `misbehaves: ${name}`,
  inputSchema: { type: 'object', properties: {} },
}));

/**
 * A 2025-era MCP server over streamable HTTP, written by hand to misbehave on
 * purpose: per tool it never answers, answers garbage, an oversized body, an
 * endless stream of events, one endless event, drops the connection, or
 * echoes the request headers it received.
 */
export async function startHostileUpstream(): Promise<{ url: string; log: HostileLog; close(): void }> {
  const log: HostileLog = { methods: [], cancelled: [], closedStreams: 0 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      const message = JSON.parse(body) as { id?: number; method: string; params?: Record<string, unknown> };
      log.methods.push(message.method);
      const reply = (result: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }));
      };
      if (message.method === 'notifications/cancelled') log.cancelled.push(message.params ?? {});
      if (message.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      if (message.method === 'initialize') {
        return reply({ protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'hostile', version: '1' } });
      }
      if (message.method === 'tools/list') return reply({ tools: TOOLS });
      if (message.method !== 'tools/call') return reply({});
      const holdOpen = () => res.on('close', () => (log.closedStreams += 1));
      switch ((message.params as { name: string }).name) {
        case 'slow':
          holdOpen();
          return; // never answers
        case 'garbage':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"jsonrpc": "2.0", "id": ');
          return;
        case 'huge':
          return reply({ content: [{ type: 'text', text: 'x'.repeat(3 * 1024 * 1024) }] });
        case 'endless': {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          holdOpen();
          const timer = setInterval(
            () =>
              res.write(
                `data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'tick' } })}\n\n`,
              ),
            20,
          );
          res.on('close', () => clearInterval(timer));
          return;
        }
        case 'endless_event': {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          holdOpen();
          const timer = setInterval(() => res.write(`data: ${'y'.repeat(64 * 1024)}`), 5);
          res.on('close', () => clearInterval(timer));
          return;
        }
        case 'crash':
          res.socket?.destroy();
          return;
        case 'echo_headers':
          return reply({ content: [{ type: 'text', text: JSON.stringify(req.headers) }] });
        default:
          return reply({ content: [{ type: 'text', text: 'fine' }] });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    log,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
