import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { quickStartFile } from '../../src/cli/commands/gateway.js';
import { envSchema, SECRET_VARIABLES } from '../../src/config/schema.js';
import { parseGatewayFile } from '../../src/gateway/file.js';
import { codeBlocks, ROOT } from '../docs/helpers.js';
import { INITIALIZE, MCP_POST_HEADERS, TEST_TOKEN } from '../helpers/server.js';
import { EVERYTHING, startTestGateway, type TestGateway } from './helpers.js';

const DOC = 'docs/gateway.md';
const DOC_URL = 'http://127.0.0.1:3000/mcp/github';
const blocks = codeBlocks(DOC);
const json = (predicate: (text: string) => boolean) => blocks.filter((block) => block.lang === 'json' && predicate(block.text));

/** The endpoint and headers a client configuration makes its client send (as clients.test.ts reads them). */
function requestOf(config: string): { url: string; headers: Record<string, string> } {
  const parsed = JSON.parse(config) as {
    servers?: Record<string, { url: string; headers: Record<string, string> }>;
    mcpServers?: Record<string, { url?: string; headers?: Record<string, string>; args?: string[]; env?: Record<string, string> }>;
  };
  const server = Object.values(parsed.servers ?? parsed.mcpServers ?? {})[0]!;
  if ('args' in server && server.args) {
    const header = server.args[server.args.indexOf('--header') + 1]!.replace(
      /\$\{(\w+)\}/g,
      (_m: string, name: string) => server.env![name]!,
    );
    const colon = header.indexOf(':');
    return { url: server.args[2]!, headers: { [header.slice(0, colon).trim()]: header.slice(colon + 1).trim() } };
  }
  return { url: server.url!, headers: server.headers! };
}

describe('docs/gateway.md', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startTestGateway({
      github: { command: process.execPath, args: [EVERYTHING, 'stdio'], policy: { default: { tools: 'tools:call' } } },
    });
  }, 30_000);
  afterAll(async () => gateway?.stop());

  it('shows a gateway file reference example that the gateway accepts as written', () => {
    const [example] = json((text) => text.includes('"upstreams"') && text.includes('github'));
    const file = parseGatewayFile(example!.text);
    expect(file.upstreams.map((spec) => [spec.name, spec.kind, spec.share])).toEqual([
      ['github', 'http', 'shared'],
      ['memory', 'stdio', 'principal'],
    ]);
  });

  it.each(['VS Code', 'Cursor', 'Claude Code', 'Claude Desktop'])('gives %s a configuration the gateway accepts', async (client) => {
    const configs = json((text) => text.includes(DOC_URL));
    expect(configs).toHaveLength(4);
    const config = configs[['VS Code', 'Cursor', 'Claude Code', 'Claude Desktop'].indexOf(client)]!.text;
    const documented = requestOf(config);
    expect(documented).toEqual({ url: DOC_URL, headers: { Authorization: 'Bearer <token>' } });
    const live = requestOf(config.replaceAll(DOC_URL, gateway.mcpUrl('github')).replace('<token>', TEST_TOKEN));
    const status = async (headers: Record<string, string>) => {
      const response = await fetch(live.url, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, ...headers },
        body: JSON.stringify(INITIALIZE),
      });
      await response.text();
      return response.status;
    };
    expect(await status(live.headers)).toBe(200);
    expect(await status({ Authorization: 'Bearer <token>' })).toBe(401);
  });

  it('starts the quick-start commands as documented', () => {
    const commands = blocks.filter((block) => block.lang === 'sh' && block.text.includes('npx mcp-guard gateway'));
    expect(commands).toHaveLength(2);
    for (const { text } of commands) {
      const [assignment, ...rest] = text.split(' ');
      expect(assignment).toMatch(/^MCP_AUTH_TOKEN_FILE=/);
      const args = rest.slice(rest.indexOf('gateway') + 1);
      const file = quickStartFile(args, {});
      expect(file.upstreams[0]!.name).toBe('upstream');
    }
  });

  it('shows a compose file whose gateway reads the documented gateway file, variables and paths', () => {
    const compose = parseYaml(blocks.find((block) => block.lang === 'yaml')!.text) as {
      services: Record<string, { command: string[]; environment: Record<string, string>; volumes?: string[]; expose?: string[] }>;
    };
    const gatewayService = compose.services.gateway!;
    expect(gatewayService.command).toEqual(['node', 'dist/cli/index.js', 'gateway']);
    for (const name of Object.keys(gatewayService.environment)) {
      const secretFile = name.endsWith('_FILE') && SECRET_VARIABLES.includes(name.slice(0, -5));
      expect(secretFile || Object.hasOwn(envSchema.shape, name)).toBe(true);
    }
    const fileInContainer = gatewayService.environment.MCP_GATEWAY_FILE!;
    expect(gatewayService.volumes).toContain(`./gateway.json:${fileInContainer}:ro`);
    // The audit volume is where the image writes its trail.
    const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');
    const auditDir = /MCP_AUDIT_DIR=(\S+)/.exec(dockerfile)![1]!;
    expect(gatewayService.volumes).toContain(`audit:${auditDir}`);
    // gateway.json names the upstream service by its name and port.
    const [gatewayJson] = json((text) => text.includes('http://everything:'));
    const upstream = parseGatewayFile(gatewayJson!.text).upstreams[0]!;
    const everything = compose.services.everything!;
    expect(upstream.kind === 'http' && new URL(upstream.url).host).toBe(`everything:${everything.environment.PORT}`);
    expect(everything.expose).toContain(everything.environment.PORT);
  });
});
