import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createBodyParser } from '../../src/middleware/body.js';

/** A server that answers what the body parser made of the request: its error's status, or the body. */
async function startParser(limitBytes = 64): Promise<{ server: Server; port: number }> {
  const app = express();
  const store = new AsyncLocalStorage<string>();
  app.use((_req, _res, next) => store.run('request-scope', next));
  app.use(createBodyParser({ limitBytes }));
  app.post('/', (req, res) => res.json({ body: req.body, scope: store.getStore() ?? null }));
  app.use((error: { status?: number; message: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(error.status ?? 500).json({ error: error.message });
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Sends `chunks` as the body, with the given Content-Length (or chunked when undefined). */
function send(port: number, chunks: Buffer[], contentLength?: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/',
        headers: { 'Content-Type': 'application/json', ...(contentLength === undefined ? {} : { 'Content-Length': contentLength }) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('the body parser', () => {
  let parser: { server: Server; port: number };
  beforeEach(async () => {
    parser = await startParser();
  });
  afterEach(async () => {
    await new Promise((resolve) => parser.server.close(resolve));
  });

  it('reads a body sent in several chunks, a character split between two of them, in the request’s async context', async () => {
    const bytes = Buffer.from('{"name":"Zoë"}');
    const split = bytes.indexOf(0xc3) + 1; // inside the two bytes of ë
    const answer = await send(parser.port, [bytes.subarray(0, split), bytes.subarray(split)]);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ body: { name: 'Zoë' }, scope: 'request-scope' });
  });

  it('drops a leading byte-order mark', async () => {
    const answer = await send(parser.port, [Buffer.from('\ufeff{"a":1}')]);
    expect(JSON.parse(answer.text).body).toEqual({ a: 1 });
  });

  it('refuses a declared length past the limit with 413, and a streamed body that goes past it', async () => {
    const tooLong = Buffer.from(`{"a":"${'x'.repeat(65 - 8)}"}`);
    expect((await send(parser.port, [tooLong], tooLong.length)).status).toBe(413);
    expect((await send(parser.port, [Buffer.from(`{"a":"${'x'.repeat(40)}"`), Buffer.from(`,"b":"${'y'.repeat(40)}"}`)])).status).toBe(413);
  });

  it('accepts a body of exactly the limit', async () => {
    const body = `{"a":"${'x'.repeat(64 - 8)}"}`;
    expect(Buffer.byteLength(body)).toBe(64);
    expect((await send(parser.port, [Buffer.from(body)])).status).toBe(200);
  });
});
