import { randomBytes } from 'node:crypto';

/** The machine's Redis, shared by every test run: always use a unique prefix, never flush it. */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test (or concurrent run) uses. */
export function uniquePrefix(label = 'test'): string {
  return `mcpg-test:${label}:${randomBytes(6).toString('hex')}:`;
}

/** A redis-server of the test's own on a free port, which the test may stop and start again. */
export interface OwnRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP: the process hangs with its connections open (a hung Redis, not a dead one). */
  pause(): void;
  /** SIGCONT after {@link OwnRedis.pause}. */
  resume(): void;
}

/** Starts `redis-server` on a free loopback port (nothing persisted). Never touches the machine's Redis. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const { spawn } = await import('node:child_process');
  const { createServer, connect } = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  let child: ReturnType<typeof spawn> | undefined;
  const waitFor = async (up: boolean) => {
    for (let i = 0; i < 100; i += 1) {
      const open = await new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      });
      if (open === up) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server on ${port} did not ${up ? 'start' : 'stop'}`);
  };
  const own: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      await waitFor(true);
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async stop() {
      if (!child) return;
      child.kill('SIGCONT');
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      child = undefined;
      await waitFor(false);
    },
  };
  await own.start();
  return own;
}
