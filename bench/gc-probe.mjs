// Preloaded into a benchmarked server (node --expose-gc --import ./bench/gc-probe.mjs): on
// SIGUSR2 it runs a full GC and prints the heap and RSS, so a benchmark can read retained memory.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const { heapUsed, rss, external, arrayBuffers } = process.memoryUsage();
  console.log(`gc-probe ${JSON.stringify({ heapUsed, rss, external, arrayBuffers })}`);
});
