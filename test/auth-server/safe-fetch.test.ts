import { createServer as createHttpsServer } from 'node:https';
import type { Server } from 'node:http';
import { classifyAddress, createSafeFetch, FetchRefusedError } from '../../src/auth-server/safe-fetch.js';
import { close, listen, LOOPBACK_CERT } from './helpers.js';
import { readFileSync } from 'node:fs';

const KEY = readFileSync(new URL('./fixtures/loopback-key.pem', import.meta.url), 'utf8');

describe('the fetch used for client metadata documents', () => {
  let server: Server;
  let port: number;
  let bytesSent = 0;
  let streamClosed: Promise<void> = Promise.resolve();
  beforeAll(async () => {
    server = createHttpsServer({ cert: LOOPBACK_CERT, key: KEY }, (req, res) => {
      if (req.url === '/stream') {
        // No Content-Length: the cap must hold while reading.
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const chunk = 'a'.repeat(16 * 1024);
        const pump = () => {
          while (bytesSent < 8 * 1024 * 1024) {
            bytesSent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        streamClosed = new Promise((resolve) => res.on('close', resolve));
        pump();
        return;
      }
      if (req.url === '/redirect') return void res.writeHead(302, { Location: 'https://10.0.0.1/' }).end();
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
    }) as unknown as Server;
    port = await listen(server);
  });
  afterAll(() => close(server));

  it.each([
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.20.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'private'],
    ['100.64.0.1', 'private'],
    ['fd12::1', 'private'],
    ['fe80::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['0.0.0.0', 'private'],
    ['93.184.216.34', 'public'],
    ['2606:4700::1', 'public'],
  ])('classifies %s as %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it('refuses loopback, by address or by a name that resolves to it, unless allowed for development', async () => {
    const strict = createSafeFetch({ ca: LOOPBACK_CERT });
    await expect(strict(`https://127.0.0.1:${port}/`)).rejects.toMatchObject({ reason: 'address_not_allowed' });
    await expect(strict(`https://localhost:${port}/`)).rejects.toMatchObject({ reason: 'address_not_allowed' });
    const development = createSafeFetch({ ca: LOOPBACK_CERT, allowLoopback: true });
    expect((await development(`https://127.0.0.1:${port}/`)).status).toBe(200);
  });

  it('refuses plain http, and private addresses even when loopback is allowed', async () => {
    const development = createSafeFetch({ allowLoopback: true });
    await expect(development(`http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(FetchRefusedError);
    await expect(development('https://10.0.0.1/')).rejects.toMatchObject({ reason: 'address_not_allowed' });
  });

  it('follows no redirect', async () => {
    const development = createSafeFetch({ ca: LOOPBACK_CERT, allowLoopback: true });
    const response = await development(`https://127.0.0.1:${port}/redirect`);
    expect(response.status).toBe(302);
  });

  it('stops reading a body at its cap, whatever the server sends', async () => {
    const development = createSafeFetch({ ca: LOOPBACK_CERT, allowLoopback: true, maxBytes: 5120 });
    const response = await development(`https://127.0.0.1:${port}/stream`);
    await expect(response.text()).rejects.toThrow();
    // The connection is dropped: far less than the 8 MiB the server offered ever left it.
    await streamClosed;
    expect(bytesSent).toBeLessThan(4 * 1024 * 1024);
  });
});
