import { Redis } from 'ioredis';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { MCP_POST_HEADERS, TEST_TOKEN, modernRequest, startTestServer, type TestServer } from '../helpers/server.js';

const AUTH = { Authorization: `Bearer ${TEST_TOKEN}` };
const legacyCall = (id: number) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } });

/**
 * Every command Redis receives from the server under test (its keys carry the test's own prefix),
 * seen with MONITOR: what one request costs in round trips (ioredis sends each command on its own).
 */
describe('the Redis round trips of one authorized tools/call through the whole stack', () => {
  const prefix = uniquePrefix('round-trips');
  let server: TestServer;
  let monitor: Awaited<ReturnType<Redis['monitor']>>;
  let probe: Redis;
  let watcher: Redis;
  let seen: string[][] = [];

  /** The commands (name and arguments) of the server's that Redis ran while `send` ran. */
  const commandsOf = async (send: () => Promise<Response>): Promise<string[][]> => {
    seen = [];
    const response = await send();
    expect(response.status).toBe(200);
    await response.text();
    // A marker through the same MONITOR stream: everything before it was the request's.
    const marker = `${prefix}marker:${Math.random()}`;
    const arrived = new Promise<void>((resolve) => {
      const wait = setInterval(() => {
        if (seen.some((args) => args.includes(marker))) resolve(clearInterval(wait));
      }, 5);
    });
    await probe.echo(marker);
    await arrived;
    return seen.filter((args) => !args.includes(marker));
  };

  beforeAll(async () => {
    server = await startTestServer({
      REDIS_URL,
      MCP_REDIS_PREFIX: prefix,
      MCP_SESSION_MODE: 'stateless',
      // Every counter on: per IP, global, per principal and per tool (the defaults, written out).
      MCP_RATE_LIMIT: '300',
      MCP_RATE_LIMIT_GLOBAL: '120000',
      MCP_RATE_LIMIT_PRINCIPAL: '600',
      MCP_RATE_LIMIT_TOOL: '300',
    });
    probe = new Redis(REDIS_URL);
    watcher = new Redis(REDIS_URL);
    monitor = await watcher.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      // Commands run inside a script are part of its one round trip.
      if (source !== 'lua' && args.some((arg) => arg.startsWith(prefix))) seen.push(args);
    });
    // Scripts are loaded on first use (EVALSHA, NOSCRIPT, EVAL): measured once they are.
    await commandsOf(() => fetch(server.mcpUrl, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...AUTH }, body: legacyCall(1) }));
  });
  afterAll(async () => {
    monitor.disconnect();
    watcher.disconnect();
    let cursor = '0';
    do {
      const [next, keys] = await probe.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await probe.unlink(...keys);
    } while (cursor !== '0');
    probe.disconnect();
    await server.stop();
  });

  /** The rate-limit commands among `commands`: the keys under `rl:`. */
  const counters = (commands: string[][]) => commands.filter((args) => args.some((arg) => arg.startsWith(`${prefix}rl:`)));

  it('counts the per-IP, global, per-principal and per-tool limits of a 2026-07-28 call in one round trip', async () => {
    const { headers, body } = modernRequest('tools/call', { name: 'echo', arguments: { message: 'hi' } }, { id: 2 });
    const commands = await commandsOf(() => fetch(server.mcpUrl, { method: 'POST', headers: { ...headers, ...AUTH }, body }));
    const limits = counters(commands);
    expect(limits).toHaveLength(1);
    expect(limits[0]![0]!.toLowerCase()).toBe('evalsha');
    const keys = limits[0]!.filter((arg) => arg.startsWith(`${prefix}rl:`)).map((key) => key.slice(prefix.length).split(':')[1]);
    expect(keys).toEqual(['ip', 'global', 'principal', 'tool']);
    // The one other round trip is the lockout's read of the client's lock (not a counter).
    expect(
      commands.filter((args) => !limits.includes(args)).map((args) => `${args[0]!.toLowerCase()} ${args[1]!.slice(prefix.length)}`),
    ).toEqual(['get lockout:lock:ip:127.0.0.1']);
  });

  it('counts them in one round trip for a 2025 call too, whose tool is named in its body only', async () => {
    const commands = await commandsOf(() =>
      fetch(server.mcpUrl, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...AUTH }, body: legacyCall(3) }),
    );
    const limits = counters(commands);
    expect(limits).toHaveLength(1);
    expect(limits[0]![0]!.toLowerCase()).toBe('evalsha');
    const keys = limits[0]!.filter((arg) => arg.startsWith(`${prefix}rl:`)).map((key) => key.slice(prefix.length).split(':')[1]);
    expect(keys).toEqual(['ip', 'global', 'principal', 'tool']);
    expect(commands).toHaveLength(2);
  });
});
