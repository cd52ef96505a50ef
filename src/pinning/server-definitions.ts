import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport, type McpServer } from '@modelcontextprotocol/server';
import type { DefinitionSet } from './canonical.js';

/**
 * What an SDK server lists, read in this process: a server from `create`
 * is connected to a client over an in-memory pair, its tools, prompts and
 * resource templates are listed (as a client would see them on the wire),
 * and both are closed. For library-mode pinning:
 *
 * @example createSecurityStack({ ..., pinning: { lockFile: 'tools.lock.json', definitions: () => readServerDefinitions(() => buildServer(undefined)) } })
 */
export async function readServerDefinitions(create: () => McpServer | Promise<McpServer>): Promise<DefinitionSet> {
  const server = await create();
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'mcp-guard-pinning', version: '1.0.0' });
  await server.connect(serverSide);
  try {
    await client.connect(clientSide as never, { prior: { kind: 'legacy' as const } });
    const capabilities = client.getServerCapabilities() ?? {};
    const options = { cacheMode: 'refresh' as const };
    return {
      tools: capabilities.tools ? (await client.listTools(undefined, options)).tools : [],
      prompts: capabilities.prompts ? (await client.listPrompts(undefined, options)).prompts : [],
      resourceTemplates: capabilities.resources ? (await client.listResourceTemplates(undefined, options)).resourceTemplates : [],
    } as unknown as DefinitionSet;
  } finally {
    await client.close().catch(() => undefined);
    await server.close().catch(() => undefined);
  }
}
