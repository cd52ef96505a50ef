import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The built server (`npm test` builds before running the tests). */
export const MAIN = join(process.cwd(), 'dist', 'main.js');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  mcpUrl: string;
  /** Every line the process printed so far. */
  lines: string[];
  exited: Promise<number | null>;
  /** Resolves with the first output line matching `pattern`, printed already or later; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<string>;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
  stop(): Promise<void>;
}

/** How to start the process: node options before the script, and its working directory. */
export interface StartOptions {
  nodeArgs?: string[];
  cwd?: string;
}

/** Spawns `node dist/main.js` with `env` (plus PATH) and waits for its "listening" line. */
export function startProcess(env: Record<string, string>, { nodeArgs = [], cwd }: StartOptions = {}): Promise<ServerProcess> {
  // A development-mode server writes its token file under its working directory: keep it out of the checkout.
  const devDir = cwd || env.MCP_DEV_TOKEN_FILE ? undefined : mkdtempSync(join(tmpdir(), 'mcp-guard-dev-'));
  const child = spawn(process.execPath, [...nodeArgs, MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      MCP_PORT: '0',
      MCP_LOG_LEVEL: 'info',
      ...(devDir ? { MCP_DEV_TOKEN_FILE: join(devDir, 'dev-token.json') } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
  });
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve(line: string): void }> = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (devDir) rmSync(devDir, { recursive: true, force: true });
      resolve(code);
    }),
  );
  const waitFor = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find((line) => pattern.test(line));
      if (seen !== undefined) return resolve(seen);
      waiters.push({ pattern, resolve });
      void exited.then((code) => reject(new Error(`exited with ${code} before printing ${pattern}:\n${lines.join('\n')}`)));
    });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${lines.join('\n')}`));
    }, 10_000);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        for (const waiter of waiters.filter((candidate) => candidate.pattern.test(line))) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
        const url = /"url":"(http:\/\/[^"]+)"/.exec(line)?.[1];
        const mcpUrl = /"mcp":"(http:\/\/[^"]+)"/.exec(line)?.[1];
        if (url && mcpUrl && line.includes('listening')) {
          clearTimeout(timer);
          resolve({ child, url, mcpUrl, lines, exited, waitFor, stop });
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${lines.join('\n')}`));
    });
  });
}

/** Runs `node dist/main.js` with exactly `env` (plus PATH) until it exits; for start-up refusals. */
export async function runToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}
