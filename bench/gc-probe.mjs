// Preloaded into every benchmarked server (node --expose-gc --import ./bench/gc-probe.mjs), bare
// and mcp-guard alike.
// - SIGUSR2: two full GCs, then one line `gc-probe {heapUsed, rss, external, arrayBuffers}`.
// - With BENCH_REDIS_PORT set: counts this process's writes to sockets connected to that port
//   (one write per command, or per pipeline, in ioredis: its round trips) and the RESP commands
//   in them by name; SIGWINCH prints `redis-writes {writes, commands, names}` (no GC, nothing else).
import { Socket } from 'node:net';

process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const { heapUsed, rss, external, arrayBuffers } = process.memoryUsage();
  console.log(`gc-probe ${JSON.stringify({ heapUsed, rss, external, arrayBuffers })}`);
});

const redisPort = Number(process.env.BENCH_REDIS_PORT ?? 0);
if (redisPort > 0) {
  let writes = 0;
  let commands = 0;
  const names = {};
  const write = Socket.prototype.write;
  Socket.prototype.write = function countedWrite(chunk, ...rest) {
    if (this.remotePort === redisPort) {
      writes += 1;
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('latin1') : '';
      // A RESP command is an array ('*' at the start of the write or of a line) whose first element is its name.
      for (const match of text.matchAll(/(?:^|\r\n)\*\d+\r\n\$\d+\r\n([A-Za-z]+)/g)) {
        commands += 1;
        const name = match[1].toLowerCase();
        names[name] = (names[name] ?? 0) + 1;
      }
    }
    return write.call(this, chunk, ...rest);
  };
  process.on('SIGWINCH', () => console.log(`redis-writes ${JSON.stringify({ writes, commands, names })}`));
}
