import { connectUpstream, type UpstreamConnection } from '../gateway/connection.js';
import type { TextReader, UpstreamSpec } from '../gateway/file.js';
import { childEnvironment, createHttpTransport, createStdioTransport, forShareKey, resolveHttpSecrets } from '../gateway/transports.js';
import type { DefinitionSet } from './canonical.js';

/**
 * What an upstream lists now, read the way the gateway reads it (the same
 * connection code, credentials and child environment; a stdio upstream is
 * started once, with the share key the gateway's start-up probe uses, and
 * stopped). For `mcp-guard tools pin|diff|approve`.
 *
 * @example const definitions = await readUpstreamDefinitions(spec, process.env);
 */
export async function readUpstreamDefinitions(
  spec: UpstreamSpec,
  env: Readonly<Record<string, string | undefined>>,
  readFile?: TextReader,
): Promise<DefinitionSet> {
  let connection: UpstreamConnection;
  if (spec.kind === 'http') {
    connection = await connectUpstream({
      name: spec.name,
      transport: createHttpTransport(spec, resolveHttpSecrets(spec, env, readFile)),
      protocol: spec.protocol,
      timeoutMs: Math.min(spec.callTimeout, 30_000),
      attributeToSoleCall: false,
    });
  } else {
    const child = childEnvironment(spec, env, readFile);
    const own = forShareKey(spec, child.env, spec.share === 'shared' ? 'shared' : 'probe');
    const transport = createStdioTransport(own.spec, own.env, undefined);
    try {
      connection = await connectUpstream({
        name: spec.name,
        transport,
        protocol: spec.protocol,
        timeoutMs: spec.startTimeout,
        attributeToSoleCall: false,
      });
    } catch (error) {
      await transport.close().catch(() => undefined);
      throw error;
    }
  }
  try {
    const { tools, prompts, resourceTemplates } = connection.lists();
    return { tools, prompts, resourceTemplates } as unknown as DefinitionSet;
  } finally {
    await connection.close();
  }
}
