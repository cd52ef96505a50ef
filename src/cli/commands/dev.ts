import { parseArgs } from 'node:util';
import { DEFAULT_DEV_TOKEN_FILE } from '../../config/schema.js';
import { clientConfig, DEV_CLIENTS, type DevClient } from '../../dev/clients.js';
import { readDevTokenFile } from '../../dev/token-file.js';
import type { CliCommand } from '../command.js';

const USAGE = `Usage: mcp-guard dev token [--file <path>]
       mcp-guard dev config <${DEV_CLIENTS.join('|')}> [--file <path>]

For a server in development mode (no credential configured, loopback only), started in this
directory: prints its development token, or a client configuration that carries it. The token
is accepted from this machine only and dies when the server stops. See docs/clients.md.

  --file <path>  the server's token file (default MCP_DEV_TOKEN_FILE, else ${DEFAULT_DEV_TOKEN_FILE})
`;

/** `mcp-guard dev`: the development token and ready-to-paste client configurations. */
export const devCommand: CliCommand = {
  name: 'dev',
  summary: 'Development mode: dev token | dev config <client>',
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { file: { type: 'string' } }, strict: false });
    const [action, client] = positionals;
    const wanted =
      (action === 'token' && positionals.length === 1) ||
      (action === 'config' && positionals.length === 2 && DEV_CLIENTS.includes(client as DevClient));
    if (!wanted) {
      io.stderr(USAGE);
      return 2;
    }
    const path = typeof values.file === 'string' ? values.file : io.env.MCP_DEV_TOKEN_FILE || DEFAULT_DEV_TOKEN_FILE;
    try {
      const { url, token } = readDevTokenFile(path);
      io.stdout(action === 'token' ? `${token}\n` : clientConfig(client as DevClient, url, token));
      return 0;
    } catch (error) {
      io.stderr(`dev: ${(error as Error).message}\n`);
      return 1;
    }
  },
};
