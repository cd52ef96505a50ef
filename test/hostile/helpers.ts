import { generateKeyPairSync } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, tempDir, TEST_API_KEY, TEST_TOKEN, type TestServer } from '../helpers/server.js';

/** An HS256 secret of the hostile test servers (never used outside test/). */
export const HOSTILE_JWT_SECRET = 'hostile-jwt-secret-0123456789abcdef01234567';
/** The audience the hostile test servers expect in JWTs. */
export const HOSTILE_AUDIENCE = 'https://mcp.hostile.test/mcp';

/** Every secret a hostile server knows: none may appear in a response. */
export const SECRETS = [TEST_TOKEN, TEST_API_KEY, HOSTILE_JWT_SECRET];

/** A server with a static token, an API key, an HS256 secret and an RS256 public key. */
export async function startHostileServer(env: Record<string, string> = {}) {
  const dir = tempDir('mcp-guard-hostile-');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const pemPath = join(dir.dir, 'jwt.pem');
  writeFileSync(pemPath, publicPem);
  let server: TestServer;
  try {
    server = await startTestServer({
      MCP_API_KEYS: `ci:operator:${TEST_API_KEY}`,
      MCP_JWT_SECRET: HOSTILE_JWT_SECRET,
      MCP_JWT_PUBLIC_KEY_FILE: pemPath,
      MCP_JWT_AUDIENCE: HOSTILE_AUDIENCE,
      MCP_LOCKOUT_ATTEMPTS: '0',
      MCP_RATE_LIMIT: '1000000',
      ...env,
    });
  } catch (error) {
    dir.remove();
    throw error;
  }
  return {
    server,
    publicPem,
    privateKey: rsa.privateKey,
    port: Number(new URL(server.url).port),
    async stop() {
      await server.stop();
      dir.remove();
    },
  };
}

/** A response as the raw clients below see it. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with node:http, which sends the path exactly as given (no normalisation). */
export function rawHttp(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: options.headers ?? {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Writes raw bytes to the server over TCP (optionally in timed pieces) and
 * collects everything it answers until it closes the connection or `limitMs` passes.
 */
export function rawSocket(
  port: number,
  pieces: Array<string | Buffer>,
  { gapMs = 0, limitMs = 5_000 }: { gapMs?: number; limitMs?: number } = {},
): Promise<{ text: string; closed: boolean; elapsedMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timers: NodeJS.Timeout[] = [];
    const finish = (closed: boolean) => {
      for (const timer of timers) clearTimeout(timer);
      timers = [];
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed, elapsedMs: Date.now() - started });
    };
    const limit = setTimeout(() => finish(false), limitMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(limit);
      finish(true);
    });
    socket.on('connect', () => {
      pieces.forEach((piece, index) => {
        timers.push(
          setTimeout(() => {
            if (!socket.destroyed) socket.write(piece);
          }, index * gapMs),
        );
      });
    });
  });
}

/** The status line's code of a raw HTTP response text, or 0 when the server sent nothing. */
export function statusOf(text: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return match ? Number(match[1]) : 0;
}

/**
 * The common promise of every hostile case: not a 5xx, no stack trace, no
 * secret, and a body that is either empty or the stable error shape.
 */
export function expectSafeRefusal(status: number, body: string, { rpc = false }: { rpc?: boolean } = {}): void {
  expect(status).toBeGreaterThanOrEqual(400);
  expect(status).toBeLessThan(500);
  expect(body).not.toMatch(/\bat .+\.(js|ts):\d+|node_modules|Error: /);
  for (const secret of SECRETS) expect(body).not.toContain(secret);
  if (body === '') return;
  const parsed = JSON.parse(body) as Record<string, unknown>;
  if (rpc) {
    const messages = (Array.isArray(parsed) ? parsed : [parsed]) as Array<{
      jsonrpc?: unknown;
      error?: { code?: unknown; message?: unknown };
    }>;
    for (const message of messages) {
      expect(message.jsonrpc).toBe('2.0');
      expect(typeof message.error?.code).toBe('number');
      expect(typeof message.error?.message).toBe('string');
    }
  } else {
    const error = parsed.error as { code?: unknown; message?: unknown } | undefined;
    expect(typeof error?.code).toBe('string');
    expect(typeof error?.message).toBe('string');
  }
}
