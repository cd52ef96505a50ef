#!/usr/bin/env node
import { isEntryPoint } from '../main.js';
import type { CliCommand, CliIo } from './command.js';
import { auditCommand } from './commands/audit.js';
import { devCommand } from './commands/dev.js';
import { gatewayCommand } from './commands/gateway.js';
import { keysCommand } from './commands/keys.js';
import { serveCommand } from './commands/serve.js';
import { tokenCommand } from './commands/token.js';
import { toolsCommand } from './commands/tools.js';

/** Every command, in help order. Add new commands here. */
const COMMANDS: CliCommand[] = [serveCommand, gatewayCommand, toolsCommand, keysCommand, tokenCommand, auditCommand, devCommand];

function usage(): string {
  const lines = COMMANDS.map((command) => `  ${command.name.padEnd(16)} ${command.summary}`);
  return `Usage: mcp-guard <command> [options]\n\nCommands:\n${lines.join('\n')}\n  help             Show this help\n\nThe server is configured with MCP_* environment variables; see .env.example.\n`;
}

/** The `mcp-guard` command line. Returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name = 'serve', ...args] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    io.stdout(usage());
    return 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    io.stderr(`Unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return command.run(args, io);
}

if (isEntryPoint(process.argv[1], import.meta.url)) {
  const io: CliIo = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
  };
  void runCli(process.argv.slice(2), io).then((code) => {
    if (code !== 0) process.exitCode = code;
  });
}
