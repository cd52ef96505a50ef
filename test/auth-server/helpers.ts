import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthClientProvider,
  OAuthDiscoveryState,
  OAuthTokens,
} from '@modelcontextprotocol/client';
import { createApp, type GuardApp } from '../../src/app.js';
import { generateSigningKey, type SigningJwk } from '../../src/auth-server/keys.js';
import { loadConfig } from '../../src/config/load.js';
import { createSilentLogger } from '../../src/logging/logger.js';
import { tempDir } from '../helpers/server.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);
/** The self-signed loopback certificate the metadata-document server presents (test/auth-server/fixtures). */
export const LOOPBACK_CERT = readFileSync(new URL('loopback-cert.pem', FIXTURES), 'utf8');
const LOOPBACK_KEY = readFileSync(new URL('loopback-key.pem', FIXTURES), 'utf8');

export async function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

export async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A listening server whose port is known before the app on it is built (its URL is in the upstream's redirect URIs). */
export async function reserve(): Promise<{ server: Server; url: string }> {
  const server = createHttpServer();
  return { server, url: `http://127.0.0.1:${await listen(server)}` };
}

/** Claims the upstream identity provider gives each login name. */
export type UpstreamUsers = Record<string, Record<string, unknown>>;

/** A real OpenID Connect provider (oidc-provider in provider mode, its development login pages) on loopback. */
export async function startUpstream(users: UpstreamUsers, redirectUris: string[]) {
  const { default: Provider } = await import('oidc-provider');
  const server = createHttpServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const clientSecret = 'upstream-secret-0123456789abcdef0123456789';
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'mcp-guard',
        client_secret: clientSecret,
        redirect_uris: redirectUris,
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub, ...(users[sub] ?? {}) }) }),
    // Browsers share cookies across ports: the upstream's must not overwrite ours on 127.0.0.1.
    cookies: {
      keys: ['upstream-cookie-key-0123456789'],
      names: { session: '_up_session', interaction: '_up_interaction', resume: '_up_resume' },
    },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
  });
  server.on('request', provider.callback());
  return { issuer, clientSecret, stop: () => close(server) };
}

/** Serves Client ID Metadata Documents over HTTPS on loopback; each document names its own URL. */
export async function startCimdServer(handler?: (req: IncomingMessage, res: ServerResponse, base: string) => boolean) {
  const documents = new Map<string, unknown>();
  let fetches = 0;
  const server = createHttpsServer({ cert: LOOPBACK_CERT, key: LOOPBACK_KEY }, (req, res) => {
    fetches += 1;
    if (handler?.(req, res, base)) return;
    const document = documents.get(req.url ?? '');
    if (!document) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=60' }).end(JSON.stringify(document));
  });
  const port = await listen(server as unknown as Server);
  const base = `https://127.0.0.1:${port}`;
  return {
    base,
    fetches: () => fetches,
    /** Publishes a document at `path` and returns its client id (its URL). */
    publish(path: string, metadata: Record<string, unknown>): string {
      const clientId = `${base}${path}`;
      documents.set(path, { client_id: clientId, ...metadata });
      return clientId;
    },
    stop: () => close(server as unknown as Server),
  };
}

export interface AuthServerFixture {
  /** The public URL (the issuer). */
  url: string;
  /** This replica's own address, when a balancer's URL is the public one. */
  directUrl: string;
  mcpUrl: string;
  guard: GuardApp;
  dir: string;
  keysFile: string;
  writeKeys(keys: SigningJwk[]): void;
  stop(): Promise<void>;
}

/** The identity mapping the tests use: example.com people are operators of tenant acme; admins by group. */
export const IDENTITY_MAP = {
  rules: [
    { match: { email_domain: 'example.com', groups: ['mcp-admins'] }, role: 'admin', tenant: 'acme' },
    { match: { email_domain: 'example.com' }, role: 'viewer', tenant: 'acme' },
  ],
};

/**
 * Starts mcp-guard with its authorization server on, in this process, on a loopback port that is
 * also its public URL (the issuer). `env` adds to or overrides the defaults; `publicUrl` lets two
 * replicas share one URL (a proxy in front).
 */
export async function startAuthServer(
  upstream: { issuer: string; clientSecret: string },
  env: Record<string, string> = {},
  options: { publicUrl?: string; keys?: SigningJwk[]; dir?: string; server?: Server } = {},
): Promise<AuthServerFixture> {
  const temp = options.dir ? { dir: options.dir, remove: () => undefined } : tempDir('mcpg-authz-');
  const keysFile = join(temp.dir, 'signing-keys.json');
  const writeKeys = (keys: SigningJwk[]) => {
    writeFileSync(keysFile, JSON.stringify({ keys }), { mode: 0o600 });
    chmodSync(keysFile, 0o600);
  };
  if (!options.dir) writeKeys(options.keys ?? [generateSigningKey()]);
  const identityFile = join(temp.dir, 'identity.json');
  writeFileSync(identityFile, JSON.stringify(IDENTITY_MAP));
  const server = options.server ?? createHttpServer();
  const port = options.server ? (server.address() as AddressInfo).port : await listen(server);
  const url = options.publicUrl ?? `http://127.0.0.1:${port}`;
  const config = loadConfig({
    MCP_HOST: '127.0.0.1',
    MCP_PORT: String(port),
    MCP_PUBLIC_URL: url,
    MCP_ALLOWED_HOSTS: `127.0.0.1:${port},${new URL(url).host}`,
    MCP_AUDIT_DIR: join(temp.dir, `audit-${port}`),
    MCP_HSTS: 'false',
    MCP_AUTH_SERVER: 'true',
    MCP_AUTH_SERVER_ALLOW_LOOPBACK: 'true',
    MCP_AUTH_SERVER_KEYS_FILE: keysFile,
    MCP_AUTH_SERVER_UPSTREAM_ISSUER: upstream.issuer,
    MCP_AUTH_SERVER_UPSTREAM_CLIENT_ID: 'mcp-guard',
    MCP_AUTH_SERVER_UPSTREAM_CLIENT_SECRET: upstream.clientSecret,
    MCP_AUTH_SERVER_IDENTITY_FILE: identityFile,
    MCP_LOCKOUT_ATTEMPTS: '0',
    ...env,
  });
  const guard = await createApp(config, { logger: createSilentLogger(), authServerCa: LOOPBACK_CERT });
  guard.markReady();
  server.on('request', guard.app);
  return {
    url,
    directUrl: `http://127.0.0.1:${port}`,
    mcpUrl: `${url}/mcp`,
    guard,
    dir: temp.dir,
    keysFile,
    writeKeys,
    async stop() {
      await close(server);
      await guard.shutdown(1000);
      temp.remove();
    },
  };
}

/** A browser without a screen: a cookie jar, redirects followed by hand, forms filled in. */
export function createBrowser() {
  const jar = new Map<string, Map<string, string>>();
  const cookieHeader = (url: URL) =>
    [...(jar.get(url.hostname) ?? new Map()).entries()].map(([name, value]) => `${name}=${value}`).join('; ');
  const store = (url: URL, response: Response) => {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const cookies = jar.get(url.hostname) ?? new Map<string, string>();
      const value = pair.slice(eq + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') cookies.delete(pair.slice(0, eq));
      else cookies.set(pair.slice(0, eq), value);
      jar.set(url.hostname, cookies);
    }
  };
  const request = async (url: URL, init: { method?: string; body?: URLSearchParams; origin?: string } = {}) => {
    const headers: Record<string, string> = { cookie: cookieHeader(url), accept: 'text/html' };
    if (init.body) headers['content-type'] = 'application/x-www-form-urlencoded';
    if (init.origin) headers.origin = init.origin;
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      headers,
      redirect: 'manual',
      ...(init.body ? { body: init.body } : {}),
    });
    store(url, response);
    return response;
  };
  return {
    request,
    /**
     * Follows the sign-in from `start` until a redirect leaves for `stopAt` (the client's redirect
     * URI), filling in the upstream login (`login`) and consent forms and answering our consent
     * page with `decision`. Returns that last redirect's URL.
     */
    async signIn(
      start: string,
      stopAt: string,
      login: string,
      decision: 'allow' | 'deny' | 'stop' = 'allow',
      pages: string[] = [],
    ): Promise<URL> {
      let url = new URL(start);
      let response = await request(url);
      for (let step = 0; step < 30; step += 1) {
        if (response.status >= 300 && response.status < 400) {
          const next = new URL(response.headers.get('location')!, url);
          if (next.href.startsWith(stopAt)) return next;
          url = next;
          response = await request(url);
          continue;
        }
        const html = await response.text();
        pages.push(html);
        if (response.status !== 200)
          throw new Error(
            `sign-in stopped at ${url.pathname} with ${response.status}: ${html.replace(/<style[\s\S]*<\/style>/, '').slice(0, 1500)}`,
          );
        const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
        if (!form) throw new Error(`no form at ${url.href}: ${html.replace(/<style[\s\S]*<\/style>/, '').slice(0, 1500)}`);
        const body = new URLSearchParams();
        for (const [tag] of form[2]!.matchAll(/<input[^>]*>/g)) {
          const name = /name="([^"]+)"/.exec(tag)?.[1];
          if (name) body.set(name, /value="([^"]*)"/.exec(tag)?.[1] ?? '');
        }
        if (body.has('login')) body.set('login', login);
        if (body.has('password')) body.set('password', 'any');
        if (form[2]!.includes('name="decision"')) {
          if (decision === 'stop') return url;
          body.set('decision', decision);
        }
        const action = new URL(
          form[1]!.replace(/&amp;/g, '&').replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))),
          url,
        );
        response = await request(action, { method: 'POST', body, origin: action.origin });
        url = action;
      }
      throw new Error('sign-in did not finish in 30 steps');
    },
  };
}

/** The SDK client's OAuth provider, as a desktop client implements it (tokens in memory). */
export class TestOAuthProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier?: string;
  discovery?: OAuthDiscoveryState;
  authorizationUrl?: URL;
  lastState?: string;
  constructor(
    readonly redirectUrl: string,
    readonly clientMetadataUrl?: string,
    readonly name = 'mcp-guard test client',
  ) {}
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.name,
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this.lastState = `state-${Math.random().toString(36).slice(2)}`;
    return this.lastState;
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('no code verifier');
    return this.verifier;
  }
}
