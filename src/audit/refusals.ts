import { z } from 'zod';
import { fn, parseOptions, service } from '../core/options.js';
import { createAuditEvent, type AuditEvent, type AuditEventInput, type AuditEventType } from './event.js';
import type { AuditLogger } from './types.js';

/** Event types that record a refused request: the ones a flood multiplies. */
export const REFUSAL_TYPES: ReadonlySet<AuditEventType> = new Set(['auth.failure', 'ratelimit.hit', 'authz.denied', 'session.hijack_attempt']);

const optionsSchema = z.strictObject({
  audit: service<AuditLogger>(),
  windowMs: z.number().int().min(1_000).default(60_000),
  inFull: z.number().int().min(0).default(10),
  maxInFull: z.number().int().min(0).default(100),
  maxSources: z.number().int().min(1).default(1_000),
  onSuppressed: fn<(type: AuditEventType) => void>().optional(),
  onError: fn<(error: unknown) => void>().optional(),
});

/** Options of {@link createRefusalAggregator}. */
export interface RefusalAggregatorOptions {
  /** Where every record goes in the end (the JSONL trail). */
  audit: AuditLogger;
  /** Length of a counting window. Default 60 s. */
  windowMs?: number;
  /** Refusals written in full per source and reason per window; the rest are counted. Default 10. */
  inFull?: number;
  /** Refusals written in full per window across all sources, so many sources cannot multiply the bytes. Default 100. */
  maxInFull?: number;
  /** Sources and reasons counted apart per window; beyond it refusals are counted per type only. Default 1000. */
  maxSources?: number;
  /** Called for each refusal counted instead of written (metrics). */
  onSuppressed?: (type: AuditEventType) => void;
  /** Called when a summary cannot be written (the trail counts its own failures too). */
  onError?: (error: unknown) => void;
}

/** An audit logger that aggregates refusals; `close` writes the last summaries. */
export interface RefusalAggregator extends AuditLogger {
  /** Writes the summaries of the current window now and starts a new one (the timer does this every window). */
  rollWindow(): Promise<void>;
}

interface Tally {
  first: AuditEventInput;
  written: number;
  suppressed: number;
}

/**
 * Puts a bound on what a flood of refused requests writes to the audit trail
 * (401, 429, 403 and hijack attempts: `REFUSAL_TYPES`). Per window, the first
 * `inFull` refusals of each source (client address and principal) and reason
 * (type, code and details) are written in full, at most `maxInFull` in all;
 * the rest are only counted, and when the window ends one `audit.summary`
 * record per source and reason gives the count. Past `maxSources` sources, a
 * window counts refusals per type alone.
 *
 * Everything else passes straight through, so answered and allowed requests
 * are recorded as before. A refusal is only counted while the trail is
 * healthy: otherwise it goes to the trail, which refuses it, and the request
 * fails closed as without aggregation.
 *
 * @example const audit = createRefusalAggregator({ audit: createJsonlAuditLogger({ dir: './audit' }) });
 */
export function createRefusalAggregator(options: RefusalAggregatorOptions): RefusalAggregator {
  const { audit, windowMs, inFull, maxInFull, maxSources, onSuppressed, onError } = parseOptions(
    'createRefusalAggregator',
    optionsSchema,
    options,
  );
  let tallies = new Map<string, Tally>();
  let writtenInFull = 0;
  let windowStart = new Date();
  let closed = false;

  const keyOf = (input: AuditEventInput): string => {
    const { type, outcome, actor, details } = input;
    return JSON.stringify([type, outcome.status, outcome.code ?? '', actor?.ip ?? '', actor?.principalId ?? '', details ?? {}]);
  };

  const summaryOf = (tally: Tally, overflow: boolean): AuditEventInput => {
    const { type, outcome, actor, details } = tally.first;
    return {
      type: 'audit.summary',
      action: `summary ${type}`,
      actor: overflow
        ? {}
        : {
            ...(actor?.ip ? { ip: actor.ip } : {}),
            ...(actor?.principalId ? { principalId: actor.principalId, role: actor.role, authMethod: actor.authMethod } : {}),
          },
      outcome: { status: outcome.status, ...(overflow ? {} : outcome.code ? { code: outcome.code } : {}) },
      details: {
        ...(overflow ? {} : details),
        summaryOf: type,
        refusals: tally.written + tally.suppressed,
        suppressed: tally.suppressed,
        windowStart: windowStart.toISOString(),
        windowMs,
        ...(overflow ? { sources: `more than ${maxSources}` } : {}),
      },
    };
  };

  const rollWindow = async (): Promise<void> => {
    const ended = tallies;
    tallies = new Map();
    writtenInFull = 0;
    const summaries = [...ended].filter(([, tally]) => tally.suppressed > 0).map(([key, tally]) => summaryOf(tally, key.startsWith('*')));
    windowStart = new Date();
    await Promise.all(summaries.map((summary) => audit.record(summary).catch((error: unknown) => onError?.(error))));
  };

  const timer = setInterval(() => void rollWindow(), windowMs);
  timer.unref();

  return {
    record(input: AuditEventInput): Promise<AuditEvent> {
      if (closed || !REFUSAL_TYPES.has(input.type) || input.outcome.status === 'success' || !audit.healthy()) return audit.record(input);
      let event: AuditEvent;
      try {
        event = createAuditEvent(input);
      } catch (error) {
        return Promise.reject(error);
      }
      let key = keyOf(input);
      let tally = tallies.get(key);
      if (!tally && tallies.size >= maxSources) {
        // Too many sources this window: count per type only, never in full.
        key = `*${input.type}`;
        tally = tallies.get(key);
      }
      if (!tally) {
        tally = { first: input, written: 0, suppressed: 0 };
        tallies.set(key, tally);
      }
      if (!key.startsWith('*') && tally.written < inFull && writtenInFull < maxInFull) {
        tally.written += 1;
        writtenInFull += 1;
        return audit.record(input);
      }
      tally.suppressed += 1;
      onSuppressed?.(input.type);
      return Promise.resolve(event);
    },
    healthy: () => audit.healthy(),
    rollWindow,
    async close(): Promise<void> {
      if (!closed) {
        closed = true;
        clearInterval(timer);
        await rollWindow();
      }
      await audit.close();
    },
  };
}
