import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addKey, type NewKeySpec } from '../../src/credentials/key-lifecycle.js';
import { updateKeyStoreFile } from '../../src/credentials/key-store-file.js';
import { INITIALIZE, MCP_POST_HEADERS } from '../helpers/server.js';

/** An HS256 secret for tests (never used outside test/). */
export const JWT_SECRET = 'test-jwt-secret-0123456789abcdef0123456789';
/** The audience the test servers are configured with. */
export const AUDIENCE = 'https://mcp.test/mcp';

/** Adds a key to the store file at `path`; returns the key (shown once) and its id. */
export async function createStoreKey(path: string, spec: Partial<NewKeySpec> = {}): Promise<{ key: string; id: string }> {
  const { key, record } = await updateKeyStoreFile(path, (data) => addKey(data, { name: 'ci', role: 'operator', ...spec }));
  return { key, id: record.id };
}

/** Copies a store file, keeping its mode. */
export function copyStore(from: string, dir: string, name: string): string {
  const to = join(dir, name);
  copyFileSync(from, to);
  return to;
}

/** POSTs an MCP initialize with the given headers. */
export function initialize(mcpUrl: string, headers: Record<string, string>): Promise<Response> {
  return fetch(mcpUrl, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...headers }, body: JSON.stringify(INITIALIZE) });
}

/** Every audit event written to `dir` so far, by the server (`audit.jsonl`) and the CLI (`cli.jsonl`). */
export function auditEvents(dir: string): Array<{ type: string; outcome: { code?: string }; details?: Record<string, unknown> }> {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .map((name) => readFileSync(join(dir, name), 'utf8'))
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { type: string; outcome: { code?: string }; details?: Record<string, unknown> });
}

/** Posts a form to the token endpoint. */
export function tokenRequest(url: string, form: Record<string, string>): Promise<Response> {
  return fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

/** Waits until `check` is true or `timeoutMs` passes. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return check();
}
