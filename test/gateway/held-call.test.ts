import { HeldCall, MAX_HELD_LOGS, type Progress, type RoundSink } from '../../src/gateway/bridge.js';

/** A round that records what it was sent. */
function recordingRound(): RoundSink & { logs: unknown[]; progress: (progress: Progress) => void; seen: Progress[] } {
  const logs: unknown[] = [];
  const seen: Progress[] = [];
  return { logs, seen, log: (_level, data) => logs.push(data), progress: (progress) => seen.push(progress) };
}

describe('a call held across input rounds', () => {
  it('hands what the upstream reported between rounds to the next round: its latest progress and its log messages', async () => {
    const call = new HeldCall('owner', 5_000);
    let finish!: (value: Record<string, unknown>) => void;
    call.run(() => new Promise((resolve) => (finish = resolve)));

    const first = recordingRound();
    const asking = call.next(new AbortController().signal, first);
    call.progress({ progress: 1, total: 3 });
    void call.scope.serverRequest({ method: 'roots/list', params: {} });
    const round = await asking;
    expect(round.done).toBe(false);
    expect(first.seen).toEqual([{ progress: 1, total: 3 }]);

    // The client is answering: no request of its waits.
    call.progress({ progress: 2, total: 3 });
    call.progress({ progress: 3, total: 3 });
    call.scope.log('info', 'between rounds', undefined);
    call.answer('r1', { roots: [] });

    const second = recordingRound();
    const ending = call.next(new AbortController().signal, second);
    finish({ content: [] });
    expect((await ending).done).toBe(true);
    expect(second.seen).toEqual([{ progress: 3, total: 3 }]);
    expect(second.logs).toEqual(['between rounds']);
  });

  it('keeps at most MAX_HELD_LOGS log messages between rounds', async () => {
    const call = new HeldCall('owner', 5_000);
    let finish!: (value: Record<string, unknown>) => void;
    call.run(() => new Promise((resolve) => (finish = resolve)));
    for (let i = 0; i < MAX_HELD_LOGS + 10; i += 1) call.scope.log('info', i, undefined);
    const round = recordingRound();
    const ending = call.next(new AbortController().signal, round);
    finish({});
    await ending;
    expect(round.logs).toHaveLength(MAX_HELD_LOGS);
  });
});
