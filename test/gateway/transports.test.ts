import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createUpstreamFetch, limitBody, UpstreamTooLargeError } from '../../src/gateway/transports.js';

async function listen(handler: http.RequestListener) {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

const streamOf = (chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
  });
const drain = async (stream: ReadableStream<Uint8Array>) => new Response(stream).text();

describe('the upstream fetch', () => {
  it('adds the upstream credential to requests to the upstream’s own URL only, and follows no redirect', async () => {
    const seen: Array<{ path: string; authorization?: string }> = [];
    const elsewhere = await listen((req, res) => {
      seen.push({ path: `elsewhere${req.url}`, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      res.end('{}');
    });
    const upstream = await listen((req, res) => {
      seen.push({ path: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      if (req.url === '/redirect') res.writeHead(302, { location: `${elsewhere.url}/steal` }).end();
      else res.end('{}');
    });
    try {
      const fetcher = createUpstreamFetch(new URL(`${upstream.url}/mcp`), { authorization: 'Bearer upstream-secret' }, 1024);
      await (await fetcher(`${upstream.url}/mcp`)).text();
      await (await fetcher(`${upstream.url}/.well-known/oauth-protected-resource`)).text();
      await expect(fetcher(`${upstream.url}/redirect`)).rejects.toThrow();
      expect(seen).toEqual([
        { path: '/mcp', authorization: 'Bearer upstream-secret' },
        { path: '/.well-known/oauth-protected-resource' },
        { path: '/redirect' },
      ]);
    } finally {
      upstream.close();
      elsewhere.close();
    }
  });
});

describe('limitBody', () => {
  it('passes a body within the limit and errors one past it', async () => {
    expect(await drain(limitBody(streamOf(['abc', 'def']), 6, false))).toBe('abcdef');
    await expect(drain(limitBody(streamOf(['abc', 'defg']), 6, false))).rejects.toBeInstanceOf(UpstreamTooLargeError);
  });

  it('counts an SSE stream per event: many small events pass, one event past the limit does not', async () => {
    const events = Array.from({ length: 100 }, (_, index) => `data: ${index}\n\n`);
    expect(await drain(limitBody(streamOf(events), 16, true))).toBe(events.join(''));
    await expect(drain(limitBody(streamOf(['data: ', 'x'.repeat(10), 'y'.repeat(10)]), 16, true))).rejects.toBeInstanceOf(
      UpstreamTooLargeError,
    );
  });
});
