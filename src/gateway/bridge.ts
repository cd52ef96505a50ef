import { randomBytes } from 'node:crypto';
import type { LoggingLevel } from '@modelcontextprotocol/client';
import type { CallScope, ServerRequest } from './connection.js';
import { UpstreamError } from './errors.js';

/**
 * The era bridge for a 2025 upstream: a call that the upstream interrupts
 * with a request of its own (sampling, elicitation, roots) is held open in
 * the gateway while the client answers it. The gateway returns the request to
 * the client as an `input_required` round (a 2026-07-28 client answers it by
 * retrying; for a 2025 client the SDK's shim sends it as a real request on
 * the session's stream), and the answer goes back to the waiting upstream.
 */

/** A request of the upstream, waiting for the client's answer. */
interface Pending {
  request: ServerRequest;
  resolve(result: Record<string, unknown>): void;
  reject(error: Error): void;
}

/** A progress notification of the upstream, without its token. */
export interface Progress {
  progress: number;
  total?: number;
  message?: string;
}

/**
 * Where the current round of a held call reports logs and progress: the
 * request the client is waiting on now, with its own progress token (a later
 * round is another request). What the upstream reports between rounds, while
 * the client answers, is kept for the next round: the latest progress and the
 * first {@link MAX_HELD_LOGS} log messages.
 */
export interface RoundSink {
  log(level: LoggingLevel, data: unknown, logger: string | undefined): void;
  progress?(progress: Progress): void;
}

/** Log messages kept for the next round while none waits (the rest are dropped). */
export const MAX_HELD_LOGS = 64;

/** One upstream call the gateway forwards, possibly held across input rounds. */
export class HeldCall {
  /** The id sealed into the client's request state. */
  readonly id = randomBytes(16).toString('base64url');
  readonly owner: string;
  readonly abort = new AbortController();
  /** Input rounds asked so far. */
  round = 0;
  private readonly pending = new Map<string, Pending>();
  private counter = 0;
  private outcome: { ok: true; value: Record<string, unknown> } | { ok: false; error: unknown } | undefined;
  private wake: (() => void) | undefined;
  private sink: RoundSink | undefined;
  /** What the upstream reported while no round waited. */
  private heldLogs: Parameters<RoundSink['log']>[] = [];
  private heldProgress: Progress | undefined;

  private budgetMs: number;
  private runningSince = 0;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param owner who may continue the call (principal and tenant)
   * @param budgetMs how long the upstream may take, not counting the time spent waiting for the client's answers
   */
  constructor(owner: string, budgetMs: number) {
    this.owner = owner;
    this.budgetMs = budgetMs;
  }

  // The upstream's time runs only while it works: waiting for the client's answer is not its time.
  private resume(): void {
    if (this.timer || this.outcome || this.pending.size > 0) return;
    this.runningSince = Date.now();
    this.timer = setTimeout(
      () => {
        this.settle({ ok: false, error: new UpstreamError('UpstreamTimeout', 'The upstream did not answer in time') });
        this.abort.abort();
      },
      Math.max(0, this.budgetMs),
    );
    this.timer.unref();
  }

  private pause(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.budgetMs -= Date.now() - this.runningSince;
  }

  /** The scope the upstream connection routes this call's requests and logs to. */
  readonly scope: CallScope = {
    serverRequest: (request) =>
      new Promise((resolve, reject) => {
        if (this.outcome) return reject(new Error('The call is over'));
        this.counter += 1;
        this.pending.set(`r${this.counter}`, { request, resolve, reject });
        this.pause();
        this.signal();
      }),
    log: (level, data, logger) => {
      if (this.sink) this.sink.log(level, data, logger);
      else if (this.heldLogs.length < MAX_HELD_LOGS) this.heldLogs.push([level, data, logger]);
    },
  };

  /** Reports the upstream's progress to the round the client waits on now, or keeps it for the next. */
  readonly progress = (progress: Progress): void => {
    if (this.sink) this.sink.progress?.(progress);
    else this.heldProgress = progress;
  };

  /** Makes `sink` the current round's and hands it what was reported between rounds. */
  private attach(sink: RoundSink): void {
    this.sink = sink;
    for (const entry of this.heldLogs) sink.log(...entry);
    if (this.heldProgress) sink.progress?.(this.heldProgress);
    this.heldLogs = [];
    this.heldProgress = undefined;
  }

  /** Starts the upstream call; its outcome ends the held call. */
  run(call: (signal: AbortSignal) => Promise<Record<string, unknown>>): void {
    this.resume();
    call(this.abort.signal).then(
      (value) => this.settle({ ok: true, value }),
      (error: unknown) => this.settle({ ok: false, error }),
    );
  }

  private settle(outcome: NonNullable<HeldCall['outcome']>): void {
    if (this.outcome) return;
    this.outcome = outcome;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const pending of this.pending.values()) pending.reject(new Error('The call is over'));
    this.pending.clear();
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /**
   * Waits until the call ends (its result or error) or the upstream asks
   * for input (every request asked so far, gathered for one round). Aborting
   * `signal` stops the wait, not the call.
   */
  async next(
    signal: AbortSignal,
    sink: RoundSink,
  ): Promise<{ done: true; value: Record<string, unknown> } | { done: false; requests: Record<string, ServerRequest> }> {
    this.attach(sink);
    try {
      for (;;) {
        if (this.outcome) {
          if (this.outcome.ok) return { done: true, value: this.outcome.value };
          throw this.outcome.error;
        }
        if (this.pending.size > 0) {
          // Requests sent together by the upstream are asked in one round.
          await new Promise((resolve) => setImmediate(resolve));
          if (this.outcome) continue;
          return { done: false, requests: Object.fromEntries([...this.pending].map(([key, pending]) => [key, pending.request])) };
        }
        if (signal.aborted) throw new UpstreamError('UpstreamUnavailable', 'The client went away');
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    } finally {
      this.sink = undefined;
    }
  }

  /** Hands the client's answer for `key` to the upstream; false when no such request waits. */
  answer(key: string, result: Record<string, unknown>): boolean {
    const pending = this.pending.get(key);
    if (!pending) return false;
    this.pending.delete(key);
    pending.resolve(result);
    this.resume();
    return true;
  }

  /** Refuses the upstream's request `key` (the client cannot answer it). */
  refuse(key: string, message: string): void {
    const pending = this.pending.get(key);
    if (!pending) return;
    this.pending.delete(key);
    pending.reject(new Error(message));
    this.resume();
  }

  /** Keys of the requests still waiting. */
  waiting(): string[] {
    return [...this.pending.keys()];
  }

  /** Ends the call: the upstream request is cancelled, its pending requests refused. */
  cancel(reason: string): void {
    this.settle({ ok: false, error: new UpstreamError('UpstreamUnavailable', reason) });
    this.abort.abort();
  }
}

/** Options of {@link createHeldCalls}. */
export interface HeldCallsOptions {
  /** How long a held call waits for the client's next round. */
  inputTimeoutMs: number;
  /** Most held calls of one owner (principal). Default 8. */
  maxPerOwner?: number;
  /** Most held calls in all. Default 1000. */
  maxTotal?: number;
}

/** The calls held between input rounds, bounded in number and in time. */
export interface HeldCalls {
  /**
   * Keeps `call` until its next round or its timeout. Past a cap, the oldest held call of the
   * owner (or of anyone, past the total cap) is cancelled to make room: a client that abandons
   * rounds only ever loses its own oldest.
   */
  hold(call: HeldCall): void;
  /** Takes a held call back for its next round (it is no longer held); undefined when unknown, expired or not the owner's. */
  take(id: string, owner: string): HeldCall | undefined;
  size(): number;
  /** Cancels every held call. */
  close(): void;
}

/** A registry of {@link HeldCall}s between rounds; each expires `inputTimeoutMs` after it was held. */
export function createHeldCalls(options: HeldCallsOptions): HeldCalls {
  const { inputTimeoutMs, maxPerOwner = 8, maxTotal = 1000 } = options;
  const held = new Map<string, { call: HeldCall; timer: NodeJS.Timeout }>();
  const countOf = (owner: string) => [...held.values()].filter((entry) => entry.call.owner === owner).length;
  return {
    hold(call) {
      const evictOldest = (match: (owner: string) => boolean) => {
        // A Map iterates in insertion order: the first match is the oldest.
        for (const [id, entry] of held) {
          if (!match(entry.call.owner)) continue;
          held.delete(id);
          clearTimeout(entry.timer);
          entry.call.cancel('Abandoned: too many calls were waiting for input');
          return;
        }
      };
      if (countOf(call.owner) >= maxPerOwner) evictOldest((owner) => owner === call.owner);
      if (held.size >= maxTotal) evictOldest(() => true);
      const timer = setTimeout(() => {
        held.delete(call.id);
        call.cancel('The client did not answer in time');
      }, inputTimeoutMs);
      timer.unref();
      held.set(call.id, { call, timer });
    },
    take(id, owner) {
      const entry = held.get(id);
      if (!entry || entry.call.owner !== owner) return undefined;
      held.delete(id);
      clearTimeout(entry.timer);
      return entry.call;
    },
    size: () => held.size,
    close() {
      for (const { call, timer } of held.values()) {
        clearTimeout(timer);
        call.cancel('The gateway is stopping');
      }
      held.clear();
    },
  };
}
