import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processTree } from '../../src/gateway/process-tree.js';
import { connectModernClient, MCP_POST_HEADERS, modernMeta, readRpc, tempDir, TEST_TOKEN } from '../helpers/server.js';
import { EVERYTHING, MEMORY, startTestGateway, type TestGateway } from './helpers.js';

const ALICE = 'alice-key-0123456789abcdef0123456789abcdef012';
const BOB = 'bob-key-0123456789abcdef0123456789abcdef01234';
const CAROL = 'carol-key-0123456789abcdef0123456789abcdef012';
const KEYS = `alice:operator:${ALICE},bob:operator:${BOB},carol:operator:${CAROL}`;
const POLICY = { default: { tools: 'tools:call' } };

/** The children of this process (the gateway runs in it) running `script`. */
function childrenRunning(script: string): number[] {
  return processTree(process.pid)
    .slice(1)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(script);
      } catch {
        return false;
      }
    });
}

/** Waits (polling, bounded) until `check` holds. */
async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const memoryUpstream = (dir: string, extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [MEMORY],
  env: { MEMORY_FILE_PATH: join(dir, 'memory-{{share}}.jsonl') },
  policy: POLICY,
  ...extra,
});

async function graphOf(gateway: TestGateway, name: string, key: string): Promise<string> {
  const client = await connectModernClient(gateway.mcpUrl(name), { 'X-API-Key': key });
  try {
    return JSON.stringify(await client.client.callTool({ name: 'read_graph', arguments: {} }));
  } finally {
    await client.close();
  }
}

async function remember(gateway: TestGateway, name: string, key: string, entity: string): Promise<void> {
  const client = await connectModernClient(gateway.mcpUrl(name), { 'X-API-Key': key });
  try {
    const result = await client.client.callTool({
      name: 'create_entities',
      arguments: { entities: [{ name: entity, entityType: 'secret', observations: ['only mine'] }] },
    });
    expect(result.isError).toBeFalsy();
  } finally {
    await client.close();
  }
}

describe('stdio upstreams: @modelcontextprotocol/server-memory behind the gateway', () => {
  let dir: ReturnType<typeof tempDir>;
  let gateway: TestGateway;
  beforeAll(async () => {
    dir = tempDir('mcp-guard-gw-memory-');
    gateway = await startTestGateway(
      {
        mine: memoryUpstream(dir.dir, { share: 'principal', maxChildren: 2 }),
        ours: memoryUpstream(dir.dir, { share: 'shared' }),
      },
      { MCP_API_KEYS: KEYS },
    );
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
    dir?.remove();
  });

  it('gives each principal its own child: one principal cannot see what another stored', async () => {
    await remember(gateway, 'mine', ALICE, 'alice-private-note');
    expect(await graphOf(gateway, 'mine', ALICE)).toContain('alice-private-note');
    expect(await graphOf(gateway, 'mine', BOB)).not.toContain('alice-private-note');
  });

  it('shares one child between principals when the file says shared (the control: the test above would see sharing)', async () => {
    await remember(gateway, 'ours', ALICE, 'team-note');
    expect(await graphOf(gateway, 'ours', BOB)).toContain('team-note');
  });

  it('keeps at most maxChildren children: a third principal’s child replaces the idlest', async () => {
    await graphOf(gateway, 'mine', ALICE);
    await graphOf(gateway, 'mine', BOB);
    await graphOf(gateway, 'mine', CAROL);
    const route = gateway.running.gateway.routes.find((candidate) => candidate.mount.name === 'mine')!;
    expect(route.mount.pool.size()).toBeLessThanOrEqual(2);
    // And the evicted principal gets a fresh child of its own, with its own data still on disk.
    expect(await graphOf(gateway, 'mine', ALICE)).toContain('alice-private-note');
  });

  it('restarts a child that crashed on its next use, with its state as it left it', async () => {
    await graphOf(gateway, 'mine', ALICE);
    const before = childrenRunning(MEMORY);
    for (const pid of before) process.kill(pid, 'SIGKILL');
    await until(() => childrenRunning(MEMORY).every((pid) => !before.includes(pid)));
    expect(await graphOf(gateway, 'mine', ALICE)).toContain('alice-private-note');
  });
});

describe('stdio children are bounded', () => {
  it('stops a child idle for longer than its idle life', async () => {
    const dir = tempDir('mcp-guard-gw-idle-');
    const gateway = await startTestGateway({ idle: memoryUpstream(dir.dir, { idleTimeout: '1s' }) }, { MCP_API_KEYS: KEYS });
    try {
      await graphOf(gateway, 'idle', ALICE);
      const pool = gateway.running.gateway.routes[0]!.mount.pool;
      expect(pool.size()).toBe(1);
      await until(() => pool.size() === 0);
      await until(() => childrenRunning(MEMORY).length === 0);
    } finally {
      await gateway.stop();
      dir.remove();
    }
  }, 20_000);

  it('kills a child over its memory limit, restarts it with backoff, and refuses with -32010 once it keeps failing', async () => {
    const dir = tempDir('mcp-guard-gw-rss-');
    // 16 MiB: less than any Node process needs, so every child is killed as soon as it is seen.
    const gateway = await startTestGateway(
      {
        hungry: memoryUpstream(dir.dir, {
          maxMemory: '16mb',
          restart: { maxRestarts: 2, window: '1m', initialDelay: 10, maxDelay: 50 },
        }),
      },
      { MCP_API_KEYS: KEYS },
    );
    try {
      const killed = async () => {
        const text = await (await fetch(`${gateway.url}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })).text();
        return Number(/mcp_guard_gateway_upstream_events_total\{upstream="hungry",event="killed_memory"\} (\d+)/.exec(text)?.[1] ?? 0);
      };
      const listTools = async (id: number) => {
        const response = await fetch(gateway.mcpUrl('hungry'), {
          method: 'POST',
          headers: {
            ...MCP_POST_HEADERS,
            Authorization: `Bearer ${TEST_TOKEN}`,
            'MCP-Protocol-Version': '2026-07-28',
            'Mcp-Method': 'tools/list',
          },
          body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list', params: { _meta: modernMeta() } }),
        });
        return (await readRpc<{ error?: { code: number; data?: { code: string; upstream: string } } }>(response))[0]!;
      };
      let last: Awaited<ReturnType<typeof listTools>> | undefined;
      for (let attempt = 0; attempt < 10; attempt += 1) {
        const before = await killed();
        last = await listTools(attempt);
        if (last.error) break;
        // The watcher reads memory every second: this child is killed within about that.
        const deadline = Date.now() + 5_000;
        while ((await killed()) === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await killed()).toBeGreaterThanOrEqual(3);
      expect(last?.error).toMatchObject({ code: -32010, data: { code: 'upstream_unavailable', upstream: 'hungry' } });
    } finally {
      await gateway.stop();
      dir.remove();
    }
  }, 60_000);
});

describe('a stdio child’s environment', () => {
  it('holds only the inherited variables and those the file gives it: none of the gateway’s own secrets', async () => {
    const gateway = await startTestGateway(
      {
        env: {
          command: process.execPath,
          args: [EVERYTHING, 'stdio'],
          env: { GREETING: 'hello', API_KEY: { env: 'CHILD_API_KEY' } },
          policy: { tools: { 'get-env': 'tools:call' } },
        },
      },
      {},
      { MCP_AUTH_TOKEN: TEST_TOKEN, REDIS_URL: 'redis://secret@127.0.0.1', CHILD_API_KEY: 'child-api-key-0123456789abcdef' },
    );
    try {
      const client = await connectModernClient(gateway.mcpUrl('env'));
      const text = JSON.stringify(await client.client.callTool({ name: 'get-env', arguments: {} }));
      await client.close();
      const names = Object.keys(JSON.parse(JSON.parse(text).content[0].text as string) as Record<string, string>).sort();
      expect(names).toEqual(['API_KEY', 'GREETING', 'HOME', 'PATH']);
      expect(text).not.toContain(TEST_TOKEN);
      expect(text).not.toContain('redis://');
      // The child has its secret; what it echoes back is scrubbed before any client sees it.
      expect(text).not.toContain('child-api-key-0123456789abcdef');
      expect(text).toContain('[redacted]');
    } finally {
      await gateway.stop();
    }
  }, 30_000);
});
