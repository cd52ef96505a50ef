// What is measured: three modes (wire + session handling), each with a bare SDK v2 server and
// mcp-guard, and credential/store/audit variants of the mcp-guard side. A scenario is
// `<mode>` (bearer token) or `<mode>-<variant>`.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { freshId, LEGACY_VERSION, post } from './load.mjs';

/** The Origin every request carries (allowed by mcp-guard's CORS and Origin check, ignored by the bare servers). */
export const ORIGIN = 'https://bench.invalid';

export const MODES = {
  stateless: {
    label: '2025 stateless (server per request)',
    wire: 'legacy',
    bare: 'bench/servers/bare-2025-stateless.mjs',
    sessionMode: 'stateless',
    session: false,
  },
  stateful: {
    label: '2025 stateful (one session)',
    wire: 'legacy',
    bare: 'bench/servers/bare-2025-stateful.mjs',
    sessionMode: 'stateful',
    session: true,
  },
  modern: {
    label: '2026-07-28 (createMcpHandler)',
    wire: 'modern',
    bare: 'bench/servers/bare-2026.mjs',
    // The 2026-07-28 leg ignores the session mode; stateful is mcp-guard's default (both eras served).
    sessionMode: 'stateful',
    session: false,
  },
};

/** Scenarios run when BENCH_ONLY is not set. */
export const DEFAULT_SCENARIOS = [
  'stateless',
  'stateful',
  'modern',
  'stateful-rs256',
  'modern-rs256',
  'stateful-redis',
  'modern-redis',
  'stateful-audit',
  'modern-audit',
];

/** The throughput target per variant (ratio against bare in the same mode). */
export const TARGET_RATIO = { bearer: 0.9, rs256: 0.85, redis: 0.85, audit: 0.9, hs256: 0.85, apikey: 0.9 };

const TOKEN = randomBytes(32).toString('base64url');
const AUDIENCE = 'https://bench.invalid/mcp';

/**
 * mcp-guard with the whole stack on: bearer auth, security headers, CORS and the Origin/Host check
 * (loopback host names), all four limit levels (per IP, per principal, per principal and tool,
 * global) each set high enough never to refuse the load, per-message authorization, metrics.
 * Audit off unless the variant turns it on.
 */
export function guardEnv(mode) {
  return {
    MCP_HOST: '127.0.0.1',
    MCP_PORT: '0',
    MCP_AUTH_TOKEN: TOKEN,
    MCP_SESSION_MODE: MODES[mode].sessionMode,
    MCP_JSON_RESPONSE: process.env.BENCH_JSON === '0' ? 'false' : 'true',
    MCP_CORS_ORIGINS: ORIGIN,
    MCP_RATE_LIMIT: '1000000',
    MCP_RATE_LIMIT_PRINCIPAL: '10000000',
    MCP_RATE_LIMIT_PRINCIPAL_BURST: '1000000',
    MCP_RATE_LIMIT_TOOL: '10000000',
    MCP_RATE_LIMIT_TOOL_BURST: '1000000',
    MCP_RATE_LIMIT_GLOBAL: '100000000',
    MCP_RATE_LIMIT_GLOBAL_BURST: '10000000',
    MCP_AUDIT_ENABLED: 'false',
    MCP_LOG_LEVEL: 'info', // the "listening" line; no per-request line at this level
    ...extraGuardEnv(),
  };
}

/** BENCH_GUARD_ENV="MCP_A=1 MCP_B=x": more (or overridden) mcp-guard settings, for experiments. */
function extraGuardEnv() {
  const pairs = (process.env.BENCH_GUARD_ENV ?? '').split(/\s+/).filter(Boolean);
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`BENCH_GUARD_ENV: "${pair}" is not NAME=value`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

/**
 * Variants of the mcp-guard side. `prepare()` returns the extra environment, the credential
 * headers (sent to both servers alike), and a cleanup.
 */
export const VARIANTS = {
  bearer: {
    label: 'bearer token',
    prepare: () => ({ env: {}, headers: { authorization: `Bearer ${TOKEN}` } }),
  },
  rs256: {
    label: 'RS256 JWT (key file)',
    prepare: () => {
      const dir = mkdtempSync(join(tmpdir(), 'mcp-guard-bench-jwt-'));
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const file = join(dir, 'jwt.pub.pem');
      writeFileSync(file, publicKey.export({ type: 'spki', format: 'pem' }));
      const token = jwt.sign({ sub: 'bench', role: 'operator', aud: AUDIENCE }, privateKey, { algorithm: 'RS256', expiresIn: '12h' });
      return {
        // The JWT is the only credential configured.
        env: { MCP_AUTH_TOKEN: '', MCP_JWT_PUBLIC_KEY_FILE: file, MCP_JWT_AUDIENCE: AUDIENCE },
        headers: { authorization: `Bearer ${token}` },
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  hs256: {
    label: 'HS256 JWT',
    prepare: () => {
      const secret = randomBytes(32).toString('base64url');
      const token = jwt.sign({ sub: 'bench', role: 'operator', aud: AUDIENCE }, secret, { algorithm: 'HS256', expiresIn: '12h' });
      return {
        env: { MCP_AUTH_TOKEN: '', MCP_JWT_SECRET: secret, MCP_JWT_AUDIENCE: AUDIENCE },
        headers: { authorization: `Bearer ${token}` },
      };
    },
  },
  apikey: {
    label: 'API key',
    prepare: () => {
      const key = randomBytes(32).toString('base64url');
      return { env: { MCP_AUTH_TOKEN: '', MCP_API_KEYS: `bench:operator:${key}` }, headers: { 'x-api-key': key } };
    },
  },
  redis: {
    label: 'bearer, Redis store',
    prepare: () => {
      const prefix = `mcp-guard-bench-${process.pid}-${randomBytes(4).toString('hex')}:`;
      const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
      return {
        // BENCH_REDIS_PORT: bench/gc-probe.mjs counts the server's writes to Redis.
        env: { REDIS_URL: url, MCP_REDIS_PREFIX: prefix, BENCH_REDIS_PORT: new URL(url).port || '6379' },
        headers: { authorization: `Bearer ${TOKEN}` },
        redisPrefix: prefix,
      };
    },
  },
  audit: {
    label: 'bearer, durable audit',
    prepare: () => {
      const dir = mkdtempSync(join(tmpdir(), 'mcp-guard-bench-audit-'));
      return {
        // Durable: each record handed to the OS (writeSync) before the response; fsync with BENCH_AUDIT_FSYNC=1.
        env: { MCP_AUDIT_ENABLED: 'true', MCP_AUDIT_DIR: dir, MCP_AUDIT_FSYNC: process.env.BENCH_AUDIT_FSYNC === '1' ? 'true' : 'false' },
        headers: { authorization: `Bearer ${TOKEN}` },
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
};

/** Parses `stateful-rs256` into its mode and variant; throws for unknown names. */
export function parseScenario(id) {
  const [mode, variant = 'bearer', ...rest] = id.split('-');
  if (!MODES[mode] || !VARIANTS[variant] || rest.length) {
    throw new Error(`unknown scenario "${id}": use <mode>[-<variant>], modes ${Object.keys(MODES)}, variants ${Object.keys(VARIANTS)}`);
  }
  return { id, mode, variant };
}

/**
 * Opens a 2025 session (initialize, then notifications/initialized) and returns the headers
 * every later request carries; other modes need none.
 */
export async function sessionHeaders(url, mode, headers) {
  if (!MODES[mode].session) return {};
  const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers };
  const init = await post(
    url,
    base,
    JSON.stringify({
      jsonrpc: '2.0',
      id: freshId(),
      method: 'initialize',
      params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'mcp-guard-bench', version: '1' } },
    }),
  );
  const session = init.headers?.['mcp-session-id'];
  if (init.status !== 200 || typeof session !== 'string') throw new Error(`initialize: ${init.error ?? init.status} ${init.text ?? ''}`);
  const sessionHeader = { 'mcp-session-id': session };
  const done = await post(
    url,
    { ...base, 'mcp-protocol-version': LEGACY_VERSION, ...sessionHeader },
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  );
  if (done.status !== 202) throw new Error(`notifications/initialized: ${done.error ?? done.status}`);
  return sessionHeader;
}
