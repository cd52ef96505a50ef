import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import express from 'express';
import winston from 'winston';
import { createRequestId } from '../../src/middleware/request-id.js';
import { createRequestLog } from '../../src/middleware/request-log.js';

describe('the request log', () => {
  it('writes one http line per request with request id, status and duration, and never the query or headers', async () => {
    const sink = new PassThrough();
    const lines: string[] = [];
    sink.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    const logger = winston.createLogger({
      level: 'http',
      format: winston.format.json(),
      transports: [new winston.transports.Stream({ stream: sink })],
    });
    const app = express().use(createRequestId(), createRequestLog({ logger }));
    app.get('/thing', (_req, res) => void res.status(204).end());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    await fetch(`http://127.0.0.1:${port}/thing?token=secret-in-query`, {
      headers: { Authorization: 'Bearer secret-header', 'X-Request-ID': 'req-1' },
    });
    // The line is written when the response finishes, which may be after fetch resolved.
    if (lines.length === 0) await once(sink, 'data');
    server.close();
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'http',
      message: 'request',
      requestId: 'req-1',
      method: 'GET',
      status: 204,
      durationMs: expect.any(Number),
    });
    expect(lines[0]).not.toContain('secret');
  });

  it('names the MCP method and its target of a request on the MCP endpoint', async () => {
    const sink = new PassThrough();
    const lines: string[] = [];
    sink.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    const logger = winston.createLogger({
      level: 'http',
      format: winston.format.json(),
      transports: [new winston.transports.Stream({ stream: sink })],
    });
    const app = express().use(createRequestId(), createRequestLog({ logger }));
    app.post('/mcp', (req, res) => {
      req.guard!.mcp = { era: 'modern', method: 'tools/call', name: 'kv\u001b[31m_set' };
      res.status(200).end();
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const finished = new Promise((resolve) => sink.once('data', resolve));
    await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`, { method: 'POST' });
    await finished;
    server.close();
    expect(JSON.parse(lines[0]!)).toMatchObject({ mcpMethod: 'tools/call', mcpName: 'kv\ufffd[31m_set' });
  });

  it('does nothing when the level is above http', () => {
    const logger = winston.createLogger({ level: 'info', transports: [new winston.transports.Stream({ stream: new PassThrough() })] });
    expect(createRequestLog({ logger }).name).not.toBe('requestLog');
  });
});
