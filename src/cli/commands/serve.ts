import { runServer } from '../../main.js';
import type { CliCommand } from '../command.js';

/** `mcp-guard serve`: starts the reference server (configuration from the environment). */
export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'Start the reference MCP server with the security stack (default)',
  async run() {
    await runServer();
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  },
};
