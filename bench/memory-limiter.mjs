// `npm run bench:limiter`: memory of the in-memory rate limiter under a flood of distinct client
// IPs: heap per tracked IP after 100,000 IPs hit it, and after the expired counters are swept.
// Drives the same path the per-IP middleware uses (express-rate-limit's store on mcp-guard's
// bounded memory store). Run with --expose-gc (the npm script does).
import { createMemoryStore } from '../dist/stores/memory.js';
import { createLimiterStore } from '../dist/middleware/rate-limit/store-adapter.js';

const IPS = Number(process.env.BENCH_IPS ?? 100_000);
const WINDOW_MS = 60_000;
let clock = Date.now();
const heap = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const counters = createMemoryStore({ maxEntries: IPS, sweepIntervalMs: 100, now: () => clock });
const limiter = createLimiterStore(counters);
limiter.init({ windowMs: WINDOW_MS });

const before = heap();
for (let i = 0; i < IPS; i += 1) {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  await limiter.increment(ip);
}
const filled = heap();
clock += WINDOW_MS + 1; // every window has ended
await sleep(300); // at least one sweep
const swept = heap();
await counters.shutdown();

const perIp = (filled - before) / IPS;
console.log(`| Tracked IPs | Heap growth | Per tracked IP | After the sweep |`);
console.log(`| ---: | ---: | ---: | ---: |`);
console.log(
  `| ${IPS.toLocaleString('en')} | ${((filled - before) / 2 ** 20).toFixed(1)} MiB | ${perIp.toFixed(0)} B | ${((swept - before) / 2 ** 20).toFixed(2)} MiB |`,
);
