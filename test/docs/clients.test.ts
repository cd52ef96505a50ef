import { join } from 'node:path';
import { clientConfig, DEV_CLIENTS, type DevClient } from '../../src/dev/clients.js';
import { writeDevTokenFile } from '../../src/dev/token-file.js';
import { startProcess } from '../helpers/process.js';
import { INITIALIZE, MCP_POST_HEADERS, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { codeBlocks, ROOT, runShell } from './helpers.js';

const DOC = 'docs/clients.md';
const DOC_URL = 'http://127.0.0.1:3000/mcp';
const PLACEHOLDER = '<token>';
const CLI = join(ROOT, 'dist', 'cli', 'index.js');
/** `npx mcp-guard ...` runs this checkout's build; any other npx stays offline (the Inspector is a dev dependency). */
const NPX_SHIM = `npx() { if [ "$1" = mcp-guard ]; then shift; node ${JSON.stringify(CLI)} "$@"; else command npx --offline "$@"; fi; }\n`;

const JSON_CLIENTS = DEV_CLIENTS.filter((client) => client !== 'inspector');
const shBlock = (start: string) => {
  const block = codeBlocks(DOC).find((candidate) => candidate.lang === 'sh' && candidate.text.startsWith(start));
  if (!block) throw new Error(`${DOC} has no sh block starting with ${start}`);
  return block.text;
};

/** The endpoint and headers a client configuration makes its client send, with variables expanded as the client does. */
function requestOf(client: DevClient, config: string): { url: string; headers: Record<string, string> } {
  const parsed = JSON.parse(config) as {
    servers?: Record<string, { type: string; url: string; headers: Record<string, string> }>;
    mcpServers?: Record<
      string,
      { type?: string; url?: string; headers?: Record<string, string>; args?: string[]; env?: Record<string, string> }
    >;
  };
  if (client === 'vscode') {
    const { type, url, headers } = parsed.servers!['mcp-guard']!;
    expect(type).toBe('http'); // streamable HTTP, what the server speaks
    return { url, headers };
  }
  const server = parsed.mcpServers!['mcp-guard']!;
  if (client === 'claude-code') expect(server.type).toBe('http');
  if (client !== 'claude-desktop') return { url: server.url!, headers: server.headers! };
  // mcp-remote <url> --header "Name:value", with ${VAR} taken from env.
  const args = server.args!;
  expect(args.slice(0, 2)).toEqual(['-y', 'mcp-remote']);
  const header = args[args.indexOf('--header') + 1]!.replace(/\$\{(\w+)\}/g, (_m, name: string) => server.env![name]!);
  const colon = header.indexOf(':');
  return { url: args[2]!, headers: { [header.slice(0, colon).trim()]: header.slice(colon + 1).trim() } };
}

async function initializeStatus(url: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...headers }, body: JSON.stringify(INITIALIZE) });
  await response.text();
  return response.status;
}

describe('docs/clients.md', () => {
  let server: TestServer;
  let dir: ReturnType<typeof tempDir>;
  let tokenFile: string;
  const live = (text: string) => text.replaceAll(DOC_URL, server.mcpUrl);
  beforeAll(async () => {
    server = await startTestServer({ MCP_AUTH_TOKEN: '' });
    dir = tempDir();
    tokenFile = join(dir.dir, 'dev', 'dev-token.json');
    writeDevTokenFile(tokenFile, { url: server.mcpUrl, token: server.running.guard.devToken!, pid: process.pid });
  });
  afterAll(async () => {
    await server.stop();
    dir.remove();
  });

  it('shows, for each client that reads a JSON file, exactly what `mcp-guard dev config` prints', () => {
    const documented = codeBlocks(DOC)
      .filter((block) => block.lang === 'json')
      .map((block) => JSON.parse(block.text) as unknown);
    expect(documented).toEqual(JSON_CLIENTS.map((client) => JSON.parse(clientConfig(client, DOC_URL, PLACEHOLDER)) as unknown));
  });

  it.each(JSON_CLIENTS)('gives %s the endpoint and the header the server accepts', async (client) => {
    const documented = requestOf(client, clientConfig(client, DOC_URL, PLACEHOLDER));
    expect(documented).toEqual({ url: DOC_URL, headers: { Authorization: `Bearer ${PLACEHOLDER}` } });
    const { url, headers } = requestOf(client, clientConfig(client, server.mcpUrl, server.running.guard.devToken!));
    expect(await initializeStatus(url, headers)).toBe(200);
    expect(await initializeStatus(url, { Authorization: `Bearer ${PLACEHOLDER}` })).toBe(401);
  });

  it('prints a configuration with `npx mcp-guard dev config vscode`', async () => {
    const shell = runShell(`${NPX_SHIM}${shBlock('npx mcp-guard dev config')}`, { MCP_DEV_TOKEN_FILE: tokenFile });
    expect(await shell.exited).toBe(0);
    const { url, headers } = requestOf('vscode', shell.lines.join('\n'));
    expect(await initializeStatus(url, headers)).toBe(200);
  });

  it('adds the server to Claude Code with an endpoint and header the server accepts', async () => {
    // `claude` itself is not installed here: a stand-in prints the arguments it receives.
    const shim = `claude() { printf '%s\\n' "$@"; }\n`;
    const shell = runShell(`${NPX_SHIM}${shim}${live(shBlock('claude mcp add'))}`, { MCP_DEV_TOKEN_FILE: tokenFile });
    expect(await shell.exited).toBe(0);
    const [mcp, add, transport, kind, name, url, flag, header] = shell.lines;
    expect([mcp, add, transport, kind, name, url, flag]).toEqual([
      'mcp',
      'add',
      '--transport',
      'http',
      'mcp-guard',
      server.mcpUrl,
      '--header',
    ]);
    const [headerName, value] = header!.split(/:\s*/, 2) as [string, string];
    expect(await initializeStatus(url!, { [headerName]: value })).toBe(200);
  });

  it('lists and calls tools with the Inspector CLI, as shown', async () => {
    const list = runShell(`${NPX_SHIM}${live(shBlock('npx @modelcontextprotocol/inspector --cli'))}`, { MCP_DEV_TOKEN_FILE: tokenFile });
    expect(await list.exited).toBe(0);
    expect(list.lines.join('\n')).toContain('"name": "echo"');
    // The call the text describes: the same command with --method tools/call --tool-name echo --tool-arg message=hi.
    const callCommand = live(shBlock('npx @modelcontextprotocol/inspector --cli')).replace(
      '--method tools/list',
      '--method tools/call --tool-name echo --tool-arg message=hi',
    );
    const call = runShell(`${NPX_SHIM}${callCommand}`, { MCP_DEV_TOKEN_FILE: tokenFile });
    expect(await call.exited).toBe(0);
    expect(call.lines.join('\n')).toContain('"text": "hi"');
  }, 60_000);

  it('shows the start-up guide as the server prints it', async () => {
    const guide = codeBlocks(DOC).find((block) => block.lang === '' && block.text.includes('development mode'))!.text;
    const started = await startProcess(
      { MCP_AUDIT_DIR: join(dir.dir, 'audit'), MCP_DEV_TOKEN_FILE: '.mcp-guard/dev-token.json' },
      { cwd: dir.dir },
    );
    try {
      await started.waitFor(/dies when this server stops/);
      const printed = started.lines.filter((line) => !line.startsWith('{'));
      expect(printed).toEqual(guide.replaceAll(DOC_URL, started.mcpUrl).split('\n'));
    } finally {
      await started.stop();
    }
  });
});
