import { jest } from '@jest/globals';
import { createMemoryStore } from '../../src/stores/memory.js';
import { createSessionTokenStore, holdSessionToken } from '../../src/stores/session-tokens.js';
import type { StateStore } from '../../src/stores/types.js';

describe('session tokens with leases', () => {
  let state: StateStore;
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    state = createMemoryStore();
  });
  afterEach(async () => {
    await state.shutdown();
    jest.useRealTimers();
  });

  it('expire one lease after the last renewal', async () => {
    const tokens = createSessionTokenStore(state);
    const { token } = await tokens.issue('operator', { ttlMs: 3_600_000, leaseMs: 1_000 });
    jest.advanceTimersByTime(900);
    expect(await tokens.renew(token, 1_000)).toBe(true);
    jest.advanceTimersByTime(900);
    expect(await tokens.lookup(token)).toMatchObject({ role: 'operator' });
    jest.advanceTimersByTime(101);
    expect(await tokens.lookup(token)).toBeUndefined();
    expect(await tokens.renew(token, 1_000)).toBe(false);
  });

  it('are never renewed past their hard expiry, nor brought back once revoked', async () => {
    const tokens = createSessionTokenStore(state);
    const capped = await tokens.issue('operator', { ttlMs: 1_500, leaseMs: 1_000 });
    jest.advanceTimersByTime(900);
    expect(await tokens.renew(capped.token, 1_000)).toBe(true);
    jest.advanceTimersByTime(601);
    expect(await tokens.lookup(capped.token)).toBeUndefined();
    const revoked = await tokens.issue('operator', { leaseMs: 1_000 });
    await tokens.revoke(revoked.token);
    expect(await tokens.renew(revoked.token, 1_000)).toBe(false);
    expect(await tokens.lookup(revoked.token)).toBeUndefined();
  });

  it('carry the loopback binding, and no expiry when none was asked for', async () => {
    const tokens = createSessionTokenStore(state);
    const { token, expiresAt } = await tokens.issue('viewer', { leaseMs: 1_000, loopbackOnly: true });
    expect(expiresAt).toBeUndefined();
    expect(await tokens.lookup(token)).toEqual({ id: expect.any(String), role: 'viewer', loopbackOnly: true });
  });

  it('stay alive while held, for many leases, and die at once when released', async () => {
    const tokens = createSessionTokenStore(state);
    const held = await holdSessionToken(tokens, 'operator', { leaseMs: 1_000 });
    for (let i = 0; i < 30; i += 1) await jest.advanceTimersByTimeAsync(400);
    expect(await tokens.lookup(held.token)).toBeDefined();
    await held.release();
    expect(await tokens.lookup(held.token)).toBeUndefined();
    await jest.advanceTimersByTimeAsync(2_000); // no late renewal brings it back
    expect(await tokens.lookup(held.token)).toBeUndefined();
  });

  it('report a held token that vanished, and stop renewing it', async () => {
    const tokens = createSessionTokenStore(state);
    let lost = 0;
    const held = await holdSessionToken(tokens, 'operator', { ttlMs: 2_000, leaseMs: 900, onLost: () => (lost += 1) });
    await jest.advanceTimersByTimeAsync(5_000);
    expect(lost).toBe(1);
    expect(await tokens.lookup(held.token)).toBeUndefined();
    await held.release();
  });
});
