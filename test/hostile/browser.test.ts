import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { startTestServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
// Without Chromium this file fails, so CI cannot silently lose it; SKIP_BROWSER_TEST=1 opts out.
const available = existsSync(CHROMIUM);
const optedOut = process.env.SKIP_BROWSER_TEST === '1';
const maybe = available && !optedOut ? describe : describe.skip;

if (!available && !optedOut) {
  describe('the browser test', () => {
    it('needs Debian’s Chromium', () => {
      throw new Error(
        `${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium, or set SKIP_BROWSER_TEST=1 to skip this file`,
      );
    });
  });
}

// The browser side: the official SDK client, bundled for the page at test time.
const CLIENT_ENTRY = `
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
window.runMcp = async (mcpUrl, token) => {
  try {
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: 'Bearer ' + token } } });
    const client = new Client({ name: 'browser-test', version: '1.0.0' });
    await client.connect(transport);
    const result = await client.callTool({ name: 'echo', arguments: { message: 'hello from the browser' } });
    await client.close();
    return { ok: true, text: JSON.stringify(result.content) };
  } catch (error) {
    return { ok: false, error: String(error && error.message ? error.message : error) };
  }
};
`;

const PAGE =
  '<!doctype html><html><head><meta charset="utf-8"><title>mcp client</title><script src="/client.js"></script></head><body></body></html>';

/** A static loopback origin serving the page and the client bundle. */
async function servePage(bundle: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/client.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(bundle);
    else res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

type Outcome = { ok: true; text: string } | { ok: false; error: string };

maybe('a real browser (headless Chromium) using the SDK client from another origin', () => {
  let browser: Browser;
  let bundle: string;
  let allowed: { server: Server; origin: string };
  let foreign: { server: Server; origin: string };
  let guard: TestServer;
  let development: TestServer;

  beforeAll(async () => {
    const built = await build({
      stdin: { contents: CLIENT_ENTRY, resolveDir: process.cwd(), loader: 'js' },
      bundle: true,
      platform: 'browser',
      format: 'iife',
      write: false,
      logLevel: 'silent',
    });
    bundle = built.outputFiles[0]!.text;
    allowed = await servePage(bundle);
    foreign = await servePage(bundle);
    guard = await startTestServer({ MCP_CORS_ORIGINS: allowed.origin });
    development = await startTestServer({ MCP_AUTH_TOKEN: '', MCP_CORS_ORIGINS: '*' });
    // playwright gives every launch a fresh temporary profile.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--host-resolver-rules=MAP rebind.test 127.0.0.1',
        // Chromium's own Private/Local Network Access checks would stop the rebinding
        // page first; turn them off so the test shows the server refusing it.
        '--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks',
      ],
    });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await guard?.stop();
    await development?.stop();
    for (const page of [allowed, foreign]) await new Promise((resolve) => page?.server.close(resolve));
  });

  async function runFrom(pageUrl: string, mcpUrl: string, serve?: string): Promise<Outcome> {
    const page = await browser.newPage();
    try {
      if (serve) {
        // The attacker's page: served for this origin without touching the network.
        await page.route(pageUrl, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: PAGE }));
        await page.route(new URL('/client.js', pageUrl).href, (route) =>
          route.fulfill({ status: 200, contentType: 'text/javascript', body: serve }),
        );
      }
      await page.goto(pageUrl);
      return await page.evaluate(
        ([url, token]) => (globalThis as unknown as { runMcp(u: string, t: string): Promise<Outcome> }).runMcp(url!, token!),
        [mcpUrl, TEST_TOKEN],
      );
    } finally {
      await page.close();
    }
  }

  it('connects and calls a tool from an origin listed in MCP_CORS_ORIGINS', async () => {
    const outcome = await runFrom(`${allowed.origin}/`, guard.mcpUrl);
    expect(outcome).toEqual({ ok: true, text: expect.stringContaining('hello from the browser') });
  });

  it('is blocked by CORS from an origin that is not listed', async () => {
    const outcome = await runFrom(`${foreign.origin}/`, guard.mcpUrl);
    expect(outcome.ok).toBe(false);
    expect(outcome).toEqual({ ok: false, error: expect.stringMatching(/fetch/i) });
  });

  it('refuses a DNS-rebinding page that reaches the server under its own origin', async () => {
    const port = new URL(guard.url).port;
    const outcome = await runFrom(`http://rebind.test:${port}/`, `http://rebind.test:${port}/mcp`, bundle);
    expect(outcome).toEqual({ ok: false, error: expect.stringMatching(/host_not_allowed|origin_not_allowed/) });
  });

  it('gets no development token from GET /session on a page of another origin, even with MCP_CORS_ORIGINS=*', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${foreign.origin}/`);
      const seen = await page.evaluate(async (url) => {
        const read = async () => {
          const response = await fetch(url);
          // A stream would never end: read what arrives within a second.
          const reader = response.body!.getReader();
          let text = '';
          const deadline = Date.now() + 1_000;
          while (Date.now() < deadline) {
            const chunk = await Promise.race([
              reader.read(),
              new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200)),
            ]);
            if (!chunk) continue;
            if (chunk.done) break;
            text += new TextDecoder().decode(chunk.value);
          }
          await reader.cancel();
          return `${response.status} ${text}`;
        };
        try {
          return await read();
        } catch (error) {
          return `error ${String(error)}`;
        }
      }, `${development.url}/session`);
      expect(seen).toMatch(/^403 /); // CORS lets the page read the answer; the answer holds no token
      expect(seen).toContain('origin_not_allowed');
      expect(seen).not.toContain('mcpg_sess_');
    } finally {
      await page.close();
    }
  });
});
