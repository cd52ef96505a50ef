import { createOverLimitMemo } from '../../../src/middleware/rate-limit/over-limit.js';

describe('the memo of clients past their per-IP limit', () => {
  it('knows a client until its window ends, then forgets it', () => {
    let t = 1_000;
    const memo = createOverLimitMemo(10, () => t);
    expect(memo.leftMs('rl:ip:192.0.2.1')).toBeLessThanOrEqual(0);
    memo.remember('rl:ip:192.0.2.1', 5_000);
    expect(memo.leftMs('rl:ip:192.0.2.1')).toBe(5_000);
    expect(memo.leftMs('rl:ip:192.0.2.2')).toBeLessThanOrEqual(0);
    t += 5_000;
    expect(memo.leftMs('rl:ip:192.0.2.1')).toBeLessThanOrEqual(0);
  });

  it('keeps at most its bound of clients, dropping the oldest', () => {
    const memo = createOverLimitMemo(2, () => 0);
    for (const key of ['a', 'b', 'c']) memo.remember(key, 1_000);
    expect(memo.leftMs('a')).toBeLessThanOrEqual(0);
    expect(memo.leftMs('b')).toBe(1_000);
    expect(memo.leftMs('c')).toBe(1_000);
  });
});
