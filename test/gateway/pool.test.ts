import type { Principal } from '../../src/core/principal.js';
import type { UpstreamConnection } from '../../src/gateway/connection.js';
import { UpstreamError } from '../../src/gateway/errors.js';
import { createUpstreamPool, type UpstreamPoolOptions } from '../../src/gateway/pool.js';

const principal = (id: string, tenant?: string): Principal => ({
  id,
  role: 'operator',
  permissions: [],
  authMethod: 'api-key',
  ...(tenant ? { tenant } : {}),
});

/** A connection that does nothing, whose in-flight count and end the test controls. */
function fakeConnection() {
  let open = true;
  let busy = 0;
  const closeListeners = new Set<() => void>();
  const connection = {
    era: 'legacy',
    capabilities: {},
    serverInfo: undefined,
    instructions: undefined,
    lists: () => ({ tools: [], prompts: [], resources: [], resourceTemplates: [] }),
    onListChanged: () => () => undefined,
    onResourceUpdated: () => () => undefined,
    onClose(listener: () => void) {
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },
    isOpen: () => open,
    inflight: () => busy,
    request: async () => ({}),
    async close() {
      open = false;
    },
  } satisfies UpstreamConnection;
  return {
    connection,
    setBusy: (count: number) => (busy = count),
    crash() {
      open = false;
      for (const listener of closeListeners) listener();
    },
  };
}

function pool(overrides: Partial<UpstreamPoolOptions> = {}) {
  const opened: Array<{ key: string; fake: ReturnType<typeof fakeConnection> }> = [];
  const created = createUpstreamPool({
    name: 'test',
    share: 'principal',
    maxConnections: 2,
    idleTimeoutMs: 60_000,
    restart: { maxRestarts: 2, windowMs: 60_000, initialDelayMs: 1, maxDelayMs: 4 },
    async connect(key) {
      const fake = fakeConnection();
      opened.push({ key, fake });
      return { connection: fake.connection };
    },
    ...overrides,
  });
  return { pool: created, opened };
}

describe('the upstream pool', () => {
  it('keys connections by principal, by tenant, or one for everyone, as the share mode says', () => {
    const byPrincipal = pool().pool;
    const byTenant = pool({ share: 'tenant' }).pool;
    const shared = pool({ share: 'shared' }).pool;
    expect(byPrincipal.keyOf(principal('a', 't'))).toBe('principal:a');
    expect(byTenant.keyOf(principal('a', 't'))).toBe('tenant:t');
    // A principal without a tenant never shares a tenant's connection.
    expect(byTenant.keyOf(principal('b'))).toBe('principal:b');
    expect(shared.keyOf(principal('a', 't'))).toBe('shared');
    for (const created of [byPrincipal, byTenant, shared]) void created.close();
  });

  it('reuses a principal’s open connection and opens one per principal', async () => {
    const { pool: created, opened } = pool();
    const first = await created.acquire(principal('a'));
    expect(await created.acquire(principal('a'))).toBe(first);
    await created.acquire(principal('b'));
    expect(opened.map((entry) => entry.key)).toEqual(['principal:a', 'principal:b']);
    await created.close();
  });

  it('refuses a new connection with UpstreamBusy when every open one has a call in flight', async () => {
    const { pool: created, opened } = pool();
    await created.acquire(principal('a'));
    await created.acquire(principal('b'));
    for (const { fake } of opened) fake.setBusy(1);
    await expect(created.acquire(principal('c'))).rejects.toMatchObject({ kind: 'UpstreamBusy' });
    opened[0]!.fake.setBusy(0);
    await created.acquire(principal('c'));
    expect(created.size()).toBe(2);
    await created.close();
  });

  it('reopens a crashed connection on its next use, and refuses once it failed more than maxRestarts times in the window', async () => {
    const { pool: created, opened } = pool();
    for (let crash = 0; crash < 3; crash += 1) {
      await created.acquire(principal('a'));
      opened.at(-1)!.fake.crash();
    }
    await expect(created.acquire(principal('a'))).rejects.toBeInstanceOf(UpstreamError);
    expect(opened).toHaveLength(3);
    await created.close();
  });

  it('shares one pending start between concurrent requests of the same principal', async () => {
    const { pool: created, opened } = pool();
    const [a, b] = await Promise.all([created.acquire(principal('a')), created.acquire(principal('a'))]);
    expect(a).toBe(b);
    expect(opened).toHaveLength(1);
    await created.close();
  });
});
