import { createRefreshTokenStore } from '../../src/credentials/refresh-tokens.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { createRedisStore } from '../../src/stores/redis.js';
import type { StateStore } from '../../src/stores/types.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/**
 * A store whose next write of a refresh family key waits until released: the artificially slow
 * store that holds a rotation in flight while another request runs.
 */
function slowFamilyWrites(inner: StateStore) {
  let armed = false;
  let reached!: () => void;
  let release!: () => void;
  const gate = {
    reached: new Promise<void>((resolve) => (reached = resolve)),
    released: new Promise<void>((resolve) => (release = resolve)),
  };
  const held =
    <A extends [string, ...unknown[]], R>(write: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (armed && args[0].startsWith('rt:family:')) {
        armed = false;
        reached();
        await gate.released;
      }
      return write(...args);
    };
  const store: StateStore = {
    ...inner,
    set: held(inner.set),
    setIfPresent: held(inner.setIfPresent),
  };
  return { store, arm: () => (armed = true), reached: gate.reached, release: () => release() };
}

describe.each([
  ['memory', async () => createMemoryStore()],
  ['redis', async () => createRedisStore({ url: REDIS_URL, prefix: uniquePrefix('refresh') })],
])('refresh-token families on the %s store', (_kind, create: () => Promise<StateStore>) => {
  let inner: StateStore;
  beforeEach(async () => {
    inner = await create();
  });
  afterEach(async () => {
    await inner.shutdown();
  });

  it('never lets a rotation in flight bring back a family that reuse detection revoked', async () => {
    const slow = slowFamilyWrites(inner);
    const tokens = createRefreshTokenStore(slow.store, 60_000);
    const { token: first } = await tokens.issue({ keyId: 'k1' });
    // A thief used the client's token first; the thief now holds `second`.
    const rotated = await tokens.rotate(first);
    if (!rotated.ok) throw new Error('the first rotation should succeed');

    // The thief's next refresh is in flight, held by the slow store at its family write...
    slow.arm();
    const inFlight = tokens.rotate(rotated.token);
    await slow.reached;
    // ...when the client presents its old token: reuse, the whole family is revoked.
    expect(await tokens.rotate(first)).toMatchObject({ ok: false, reason: 'reused' });
    slow.release();

    const thief = await inFlight;
    // Either the in-flight rotation is refused, or the token it got is dead: the family stays revoked.
    const next = thief.ok ? await tokens.rotate(thief.token) : thief;
    expect(next).toMatchObject({ ok: false, reason: 'family_revoked' });
    expect(thief).toMatchObject({ ok: false, reason: 'family_revoked' });
  });

  it('extends a family on every rotation and ends it on reuse, for the newest token too', async () => {
    const tokens = createRefreshTokenStore(inner, 60_000);
    const { token: first } = await tokens.issue({ keyId: 'k1', scope: 'tools:list' });
    const second = await tokens.rotate(first);
    if (!second.ok) throw new Error('rotation should succeed');
    expect(second.grant).toEqual({ keyId: 'k1', scope: 'tools:list' });
    expect(await tokens.rotate(first)).toMatchObject({ ok: false, reason: 'reused' });
    expect(await tokens.rotate(second.token)).toMatchObject({ ok: false, reason: 'family_revoked' });
    expect(await tokens.rotate('mcpg_rt_unknown')).toMatchObject({ ok: false, reason: 'unknown' });
  });
});
