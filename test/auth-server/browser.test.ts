import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { chromium, type BrowserContext } from 'playwright-core';
import {
  close,
  listen,
  reserve,
  startAuthServer,
  startCimdServer,
  startUpstream,
  TestOAuthProvider,
  type AuthServerFixture,
} from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
// Without Chromium this file fails, so CI cannot silently lose it; SKIP_BROWSER_TEST=1 opts out.
const available = existsSync(CHROMIUM);
const optedOut = process.env.SKIP_BROWSER_TEST === '1';
const maybe = available && !optedOut ? describe : describe.skip;

if (!available && !optedOut) {
  describe('the sign-in browser test', () => {
    it('needs Debian’s Chromium', () => {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium, or set SKIP_BROWSER_TEST=1`);
    });
  });
}

maybe('a person signing in through a real browser (headless Chromium), as a desktop MCP client sends them', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let cimd: Awaited<ReturnType<typeof startCimdServer>>;
  let as: AuthServerFixture;
  let callbackServer: Server;
  let redirectUrl: string;
  let context: BrowserContext;
  let profile: string;
  const callbacks: URL[] = [];

  beforeAll(async () => {
    callbackServer = createServer((req, res) => {
      callbacks.push(new URL(req.url ?? '/', redirectUrl));
      res
        .writeHead(200, { 'Content-Type': 'text/html' })
        .end('<!doctype html><title>done</title><p id="done">You can close this window.</p>');
    });
    redirectUrl = `http://127.0.0.1:${await listen(callbackServer)}/callback`;
    const reserved = await reserve();
    upstream = await startUpstream({ alice: { email: 'alice@example.com', email_verified: true, name: 'Alice', groups: ['mcp-admins'] } }, [
      `${reserved.url}/auth/callback`,
    ]);
    cimd = await startCimdServer();
    as = await startAuthServer(upstream, {}, { server: reserved.server });
    profile = mkdtempSync(join(tmpdir(), 'mcpg-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 30_000);

  afterAll(async () => {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
    await as?.stop();
    await Promise.all([upstream?.stop(), cimd?.stop(), close(callbackServer)]);
  });

  it('signs in at the upstream provider, consents on the page, and the SDK client calls a tool with the token', async () => {
    const clientId = cimd.publish('/oauth/client.json', {
      client_name: 'Browser Test Client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    const provider = new TestOAuthProvider(redirectUrl, clientId);
    const transport = new StreamableHTTPClientTransport(new URL(as.mcpUrl), { authProvider: provider });
    await expect(new Client({ name: 'desktop', version: '1' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);

    const page = await context.newPage();
    await page.goto(provider.authorizationUrl!.href);
    // The upstream provider's own sign-in page (oidc-provider's development login), then its consent.
    await page.fill('input[name=login]', 'alice');
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    await page.waitForSelector('button[type=submit]');
    if (await page.locator('input[name=prompt][value=consent]').count()) await page.click('button[type=submit]');
    // mcp-guard's consent page: the client's name, its origin, the redirect host and the scopes.
    await page.waitForSelector('#allow');
    const text = await page.locator('body').innerText();
    expect(text).toContain('Browser Test Client');
    expect(text).toContain(new URL(clientId).origin);
    expect(text).toContain(new URL(redirectUrl).host);
    expect(text).toContain('tools:call');
    expect(text).toContain('alice@example.com');
    // CONSENT_SCREENSHOT=/tmp/consent.png keeps a picture of the page for a person to look at.
    if (process.env.CONSENT_SCREENSHOT) await page.screenshot({ path: process.env.CONSENT_SCREENSHOT });
    await page.click('#allow');
    await page.waitForSelector('#done', { timeout: 5000 }).catch(async (error: unknown) => {
      throw new Error(`${String(error)} at ${page.url()}: ${(await page.content()).slice(0, 800)}`);
    });
    await page.close();

    const back = callbacks.filter((url) => url.pathname === '/callback').at(-1)!;
    expect(back.searchParams.get('iss')).toBe(as.url);
    expect(back.searchParams.get('state')).toBe(provider.lastState);
    await transport.finishAuth(back.searchParams);
    const client = new Client({ name: 'desktop', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(as.mcpUrl), { authProvider: provider }));
    const result = await client.callTool({ name: 'echo', arguments: { message: 'from the browser sign-in' } });
    expect(JSON.stringify(result.content)).toContain('from the browser sign-in');
    await client.close();
  }, 60_000);
});
