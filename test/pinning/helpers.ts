import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { runCli } from '../../src/cli/index.js';
import { loadConfig } from '../../src/config/load.js';
import { loadGatewayFile } from '../../src/gateway/file.js';
import { startGateway, type RunningGateway } from '../../src/gateway/start.js';
import { connectModernClient, tempDir, TEST_TOKEN } from '../helpers/server.js';

/** The rug-pulling upstream: a stdio MCP server listing what a JSON file holds, and changing when it does. */
export const RUG_PULL = join(import.meta.dirname, 'fixtures', 'rug-pull-server.mjs');

/** Text spelled in Unicode tag characters: invisible in every editor and terminal. */
export const hidden = (text: string): string => [...text].map((char) => String.fromCodePoint(0xe0000 + char.charCodeAt(0))).join('');

export const readFile = {
  name: 'read_file',
  description: 'Reads a file under /data.',
  inputSchema: { type: 'object', properties: { path: { type: 'string', pattern: '^/data/' } }, required: ['path'] },
};
export const listDir = {
  name: 'list_dir',
  description: 'Lists a directory under /data.',
  inputSchema: { type: 'object', properties: { path: { type: 'string' } } },
};
export const summarise = { name: 'summarise', description: 'Summarises a text.', arguments: [{ name: 'text', description: 'The text' }] };

export interface Definitions {
  tools: object[];
  prompts?: object[];
  resourceTemplates?: object[];
}

/** Writes the upstream's definitions (a rename: the upstream sees the whole file or the old one). */
export function writeDefinitions(path: string, definitions: Definitions): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(definitions));
  renameSync(`${path}.tmp`, path);
}

/** An upstream entry of the gateway file running the rug-pulling server on `definitionsFile`. */
export const rugUpstream = (definitionsFile: string, extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [RUG_PULL, definitionsFile],
  share: 'shared',
  policy: { default: { tools: 'tools:call', prompts: 'prompts:get', resources: 'resources:read' } },
  ...extra,
});

/** A logger whose lines a test can read. */
export function captureLogger(): { logger: winston.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return {
    logger: winston.createLogger({
      level: 'debug',
      format: winston.format.json(),
      transports: [new winston.transports.Stream({ stream })],
    }),
    lines,
  };
}

export interface PinnedGateway {
  running: RunningGateway;
  mcpUrl(name: string): string;
  auditDir: string;
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Starts a gateway from `gatewayFile` (loaded from disk: its lock is beside it), polling the lock every 50 ms. */
export async function startPinnedGateway(gatewayFile: string, env: Record<string, string> = {}, lockPollMs = 50): Promise<PinnedGateway> {
  const audit = tempDir('mcp-guard-pin-audit-');
  const config = loadConfig({
    MCP_HOST: '127.0.0.1',
    MCP_PORT: '0',
    MCP_AUTH_TOKEN: TEST_TOKEN,
    MCP_AUDIT_DIR: audit.dir,
    MCP_SHUTDOWN_TIMEOUT: '2s',
    // Tests poll the lists: no limit in the way.
    MCP_RATE_LIMIT: '100000',
    MCP_RATE_LIMIT_PRINCIPAL: '0',
    MCP_RATE_LIMIT_TOOL: '0',
    ...env,
  });
  const { logger, lines } = captureLogger();
  const running = await startGateway(config, loadGatewayFile(gatewayFile), logger, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    lockPollMs,
  });
  return {
    running,
    mcpUrl: (name) => running.mcpUrls[name]!,
    auditDir: audit.dir,
    logs: lines,
    async stop() {
      await running.stop();
      audit.remove();
    },
  };
}

/** The audit records of a directory, every stream. */
export function auditRecords(dir: string): Array<{
  type: string;
  action: string;
  actor: Record<string, unknown>;
  outcome: { status: string; code?: string };
  details?: Record<string, unknown>;
}> {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line));
}

/** Runs `mcp-guard <args>` in this process; resolves with its exit code and output. */
export async function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  return { code, stdout, stderr };
}

/** The names a 2026-07-28 client sees listed. */
export async function toolNames(mcpUrl: string): Promise<string[]> {
  const client = await connectModernClient(mcpUrl);
  try {
    return (await client.client.listTools()).tools.map((tool) => tool.name).sort();
  } finally {
    await client.close();
  }
}

/** Calls a tool; resolves with its text, or the JSON-RPC error code it was refused with. */
export async function callTool(mcpUrl: string, name: string): Promise<{ text?: string; code?: number; message?: string }> {
  const client = await connectModernClient(mcpUrl);
  try {
    const result = await client.client.callTool({ name, arguments: { path: '/data/x' } });
    return { text: (result.content as Array<{ text: string }>)[0]?.text };
  } catch (error) {
    return { code: (error as { code?: number }).code, message: (error as Error).message };
  } finally {
    await client.close();
  }
}

/** Waits (polling, bounded) until `check` resolves true. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
