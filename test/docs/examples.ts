import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** A code block of the documentation marked `<!-- doc-test: name -->` right above it. */
export interface DocExample {
  name: string;
  /** The file it comes from, relative to the repository root. */
  file: string;
  language: string;
  code: string;
}

const ROOT = join(import.meta.dirname, '..', '..');
/** Where examples are written and compiled: inside the package, so `import 'mcp-guard'` resolves to it. */
export const EXAMPLES_DIR = join(ROOT, 'test', 'docs', '.examples');

const MARKED = /<!-- doc-test: ([a-z0-9-]+) -->\s*\n```([a-z]+)\n([\s\S]*?)\n```/g;

/** Every marked example of the given markdown files. */
export function docExamples(...files: string[]): DocExample[] {
  const examples: DocExample[] = [];
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const match of text.matchAll(MARKED)) examples.push({ name: match[1]!, file, language: match[2]!, code: match[3]! });
  }
  return examples;
}

/** Runs a command to its end; resolves with its exit code and output. */
export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * Writes the TypeScript examples to {@link EXAMPLES_DIR} and compiles them
 * under `strict` (the settings a user's project would have), as ES modules
 * importing the built package by its name. Resolves with the compiler output
 * (empty when they type-check).
 */
export async function compileExamples(examples: readonly DocExample[]): Promise<{ code: number | null; output: string }> {
  rmSync(EXAMPLES_DIR, { recursive: true, force: true });
  mkdirSync(EXAMPLES_DIR, { recursive: true });
  for (const example of examples) writeFileSync(join(EXAMPLES_DIR, `${example.name}.ts`), `${example.code}\n`);
  writeFileSync(
    join(EXAMPLES_DIR, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: true,
        types: ['node'],
        outDir: 'out',
        rootDir: '.',
      },
      include: ['*.ts'],
    }),
  );
  return run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(EXAMPLES_DIR, 'tsconfig.json')]);
}

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** A compiled example started as its own process, once it printed `ready`. */
export async function startExample(
  name: string,
  env: NodeJS.ProcessEnv,
  ready: RegExp,
): Promise<{ child: ChildProcess; output(): string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [join(EXAMPLES_DIR, 'out', `${name}.js`)], {
    cwd: EXAMPLES_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`example ${name} did not start:\n${output}`)), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`example ${name} exited:\n${output}`));
    });
  });
  return {
    child,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
