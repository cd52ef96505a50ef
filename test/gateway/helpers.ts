import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { parseGatewayFile } from '../../src/gateway/file.js';
import { startGateway, type RunningGateway } from '../../src/gateway/start.js';
import { createSilentLogger } from '../../src/logging/logger.js';
import { startTestServer, tempDir, TEST_TOKEN, type TestServer } from '../helpers/server.js';

/** The token the gateway presents to an upstream (never a client's). */
export const UPSTREAM_TOKEN = 'upstream-token-0123456789abcdef0123456789abcdef';
/** The entry point of @modelcontextprotocol/server-everything (2025 era, SDK v1 inside). */
export const EVERYTHING = join(process.cwd(), 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
/** The entry point of @modelcontextprotocol/server-memory (stdio, a knowledge graph in a file). */
export const MEMORY = join(process.cwd(), 'node_modules', '@modelcontextprotocol', 'server-memory', 'dist', 'index.js');

/** mcp-guard's own reference server with the conformance toolset: a 2026-07-28 upstream that needs a bearer token. */
export function startModernUpstream(env: Record<string, string> = {}): Promise<TestServer> {
  return startTestServer({ MCP_TOOLSET: 'conformance', MCP_AUTH_TOKEN: UPSTREAM_TOKEN, MCP_RATE_LIMIT: '100000', ...env });
}

export interface TestGateway {
  running: RunningGateway;
  url: string;
  mcpUrl(name: string): string;
  auditDir: string;
  stop(): Promise<void>;
}

/**
 * Starts a gateway in this process with the given gateway file (an object) and
 * environment (merged over test defaults: the test token, a private audit directory).
 */
export async function startTestGateway(
  upstreams: Record<string, unknown>,
  env: Record<string, string> = {},
  fileEnv: Record<string, string | undefined> = {},
): Promise<TestGateway> {
  const audit = tempDir('mcp-guard-gw-audit-');
  const config = loadConfig({
    MCP_HOST: '127.0.0.1',
    MCP_PORT: '0',
    MCP_AUTH_TOKEN: TEST_TOKEN,
    MCP_AUDIT_DIR: audit.dir,
    MCP_SHUTDOWN_TIMEOUT: '2s',
    ...env,
  });
  const file = parseGatewayFile(JSON.stringify({ upstreams }));
  const running = await startGateway(config, file, createSilentLogger(), {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...fileEnv },
  });
  return {
    running,
    url: running.url,
    mcpUrl: (name) => running.mcpUrls[name]!,
    auditDir: audit.dir,
    async stop() {
      await running.stop();
      audit.remove();
    },
  };
}
