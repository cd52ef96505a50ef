import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfig } from '../../src/config/load.js';
import { createSilentLogger } from '../../src/logging/logger.js';
import { startServer, type RunningServer } from '../../src/main.js';

/** A static bearer token for tests (never used outside test/). */
export const TEST_TOKEN = 'test-token-0123456789abcdef0123456789abcdef';
/** A static API key for tests, role operator. */
export const TEST_API_KEY = 'test-api-key-0123456789abcdef0123456789ab';

export interface TestServer {
  url: string;
  mcpUrl: string;
  auditDir: string;
  running: RunningServer;
  stop(): Promise<void>;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'mcp-guard-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Starts the reference server in this process on an ephemeral loopback port,
 * with a private audit directory. `env` overrides the test defaults; pass
 * `MCP_AUTH_TOKEN: ''` to run without the default token.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const audit = tempDir('mcp-guard-audit-');
  const config = loadConfig({
    MCP_HOST: '127.0.0.1',
    MCP_PORT: '0',
    MCP_AUTH_TOKEN: TEST_TOKEN,
    MCP_AUDIT_DIR: audit.dir,
    MCP_SHUTDOWN_TIMEOUT: '2s',
    ...env,
  });
  const running = await startServer(config, createSilentLogger());
  return {
    url: running.url,
    mcpUrl: `${running.url}${config.mcp.path}`,
    auditDir: audit.dir,
    running,
    async stop() {
      await running.stop();
      audit.remove();
    },
  };
}

/** Connects the official SDK client to `mcpUrl` with the given request headers. */
export async function connectClient(mcpUrl: string, headers: Record<string, string> = { Authorization: `Bearer ${TEST_TOKEN}` }) {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers } });
  const client = new Client({ name: 'mcp-guard-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, close: () => client.close() };
}

/** The JSON-RPC initialize request a client sends first. */
export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw-http', version: '1' } },
};

/** Headers of a streamable-HTTP POST. */
export const MCP_POST_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

/** Reads the JSON-RPC messages of a response, whether it came as JSON or as an SSE stream. */
export async function readRpc<T = Record<string, unknown>>(response: Response): Promise<T[]> {
  const text = await response.text();
  if ((response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    return text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as T);
  }
  const parsed = JSON.parse(text) as T | T[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** Reads an SSE response up to the end of its first event and returns that event's raw text. */
export async function readFirstEvent(response: Response): Promise<string> {
  const reader = response.body!.getReader();
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString('utf8');
  }
  return text;
}

/** The JSON `data` of an SSE event's text. */
export function eventData<T>(text: string): T {
  return JSON.parse(
    text
      .split('\n')
      .find((line) => line.startsWith('data: '))!
      .slice(6),
  ) as T;
}

/**
 * Opens development-mode `GET /session` on `baseUrl` and returns the token of its
 * `session-token` event, the event's raw text, and a way to close the stream (which kills the token).
 */
export async function openSessionToken(baseUrl: string): Promise<{ token: string; expiresAt: string; text: string; close(): void }> {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/session`, { signal: controller.signal });
  if (response.status !== 200) throw new Error(`GET /session answered ${response.status}`);
  const text = await readFirstEvent(response);
  return { ...eventData<{ token: string; expiresAt: string }>(text), text, close: () => controller.abort() };
}

/** The 2026-07-28 revision. */
export const MODERN_VERSION = '2026-07-28';

/** The `_meta` envelope every 2026-07-28 request carries. */
export function modernMeta(capabilities: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
    'io.modelcontextprotocol/clientInfo': { name: 'raw-http', version: '1' },
    'io.modelcontextprotocol/clientCapabilities': capabilities,
  };
}

/**
 * A raw 2026-07-28 request as a client would send it: the envelope in
 * `params._meta` and the routing headers mirroring the body. `headers`
 * overrides or removes (value `undefined`) any of them.
 */
export function modernRequest(
  method: string,
  params: Record<string, unknown> = {},
  options: { id?: number | string; headers?: Record<string, string | undefined> } = {},
): { headers: Record<string, string>; body: string } {
  const name = typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined;
  const headers: Record<string, string | undefined> = {
    ...MCP_POST_HEADERS,
    'MCP-Protocol-Version': MODERN_VERSION,
    'Mcp-Method': method,
    ...(name !== undefined ? { 'Mcp-Name': name } : {}),
    ...options.headers,
  };
  const defined = Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return {
    headers: defined,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: options.id ?? 1,
      method,
      params: { ...params, _meta: { ...modernMeta(), ...(params._meta as object) } },
    }),
  };
}

/** Connects the official SDK v2 client on the 2026-07-28 revision (negotiated with server/discover). */
export async function connectModernClient(mcpUrl: string, headers: Record<string, string> = { Authorization: `Bearer ${TEST_TOKEN}` }) {
  const { Client: ModernClient, StreamableHTTPClientTransport: ModernTransport } = await import('@modelcontextprotocol/client');
  const client = new ModernClient({ name: 'mcp-guard-test', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  await client.connect(new ModernTransport(new URL(mcpUrl), { requestInit: { headers } }));
  return { client, close: () => client.close() };
}
