/** Where a command writes; injectable so commands can be tested without a process. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
}

/** One `mcp-guard <name>` command. `run` returns the exit code. */
export interface CliCommand {
  name: string;
  /** One line for the help text. */
  summary: string;
  run(args: string[], io: CliIo): Promise<number>;
}
