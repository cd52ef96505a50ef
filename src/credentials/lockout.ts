import { z } from 'zod';
import type { AuditEventInput } from '../audit/event.js';
import type { AuditLogger } from '../audit/types.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { parseOptions, service } from '../core/options.js';
import type { StateStore } from '../stores/types.js';

/** What a failed attempt is counted against. */
export interface LockoutSubjects {
  ip?: string;
  /** The key id embedded in a presented API key (even a wrong one). */
  keyId?: string;
}

/** A lock in force. */
export interface LockState {
  subject: 'ip' | 'key';
  retryAfterMs: number;
}

/** Brute-force lockout on a {@link StateStore}, shared by every replica when the store is. */
export interface Lockout {
  /** The lock in force for any of the subjects, or undefined. */
  check(subjects: LockoutSubjects): Promise<LockState | undefined>;
  /** Counts a failure; returns the locks this failure engaged (empty when none). */
  recordFailure(subjects: LockoutSubjects): Promise<LockState[]>;
}

/** Options of {@link createLockout}. */
export interface LockoutOptions {
  store: StateStore;
  /** Failures allowed per subject within the window. Default 5. */
  maxAttempts?: number;
  /** Window failures are counted in, ms. Default 15 minutes. */
  windowMs?: number;
  /** How long a subject stays locked, ms. Default 30 minutes. */
  lockoutMs?: number;
  /** Key namespace in the store. Default `lockout:`. */
  prefix?: string;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

const optionsSchema = z.strictObject({
  store: service<StateStore>(),
  maxAttempts: z.number().int().min(1).max(1000).optional(),
  windowMs: z.number().int().min(1000).optional(),
  lockoutMs: z.number().int().min(1000).optional(),
  prefix: z.string().min(1).max(64).optional(),
  now: z.custom<() => number>((value) => typeof value === 'function').optional(),
});

/**
 * Creates the lockout: after `maxAttempts` failures from one IP or against
 * one key id within `windowMs`, that subject is refused for `lockoutMs`.
 * Successful requests cost one store read per subject and are never delayed.
 *
 * @example const lockout = createLockout({ store, maxAttempts: 5, windowMs: 15 * 60_000, lockoutMs: 30 * 60_000 });
 */
export function createLockout(options: LockoutOptions): Lockout {
  const {
    store,
    maxAttempts = 5,
    windowMs = 15 * 60_000,
    lockoutMs = 30 * 60_000,
    prefix = 'lockout:',
    now = Date.now,
  } = parseOptions('createLockout', optionsSchema, options);
  const subjectsOf = (subjects: LockoutSubjects): Array<[LockState['subject'], string]> => [
    ...(subjects.ip ? [['ip', subjects.ip] as [LockState['subject'], string]] : []),
    ...(subjects.keyId ? [['key', subjects.keyId] as [LockState['subject'], string]] : []),
  ];
  return {
    async check(subjects) {
      for (const [subject, value] of subjectsOf(subjects)) {
        const until = await store.get(`${prefix}lock:${subject}:${value}`);
        if (until === undefined) continue;
        const retryAfterMs = Number(until) - now();
        if (retryAfterMs > 0) return { subject, retryAfterMs };
      }
      return undefined;
    },
    async recordFailure(subjects) {
      const engaged: LockState[] = [];
      for (const [subject, value] of subjectsOf(subjects)) {
        const { count } = await store.increment(`${prefix}fail:${subject}:${value}`, windowMs);
        if (count < maxAttempts) continue;
        // One winner across replicas: only the first to set the lock reports it.
        if (await store.setIfAbsent(`${prefix}lock:${subject}:${value}`, String(now() + lockoutMs), lockoutMs)) {
          await store.delete(`${prefix}fail:${subject}:${value}`);
          engaged.push({ subject, retryAfterMs: lockoutMs });
        }
      }
      return engaged;
    },
  };
}

/** Where {@link recordFailureAudited} reports the locks a failure engaged. */
export interface LockoutReport {
  audit: AuditLogger;
  metrics?: GuardMetrics | undefined;
  action: string;
  actor: AuditEventInput['actor'];
  context: AuditEventInput['context'];
}

/**
 * Counts a failed authentication and, for each lock it engaged, counts the
 * lockout metric and writes an `auth.lockout` audit event (awaited: the caller
 * answers only after it is written).
 */
export async function recordFailureAudited(lockout: Lockout, subjects: LockoutSubjects, report: LockoutReport): Promise<void> {
  for (const lock of await lockout.recordFailure(subjects)) {
    report.metrics?.lockouts.inc({ subject: lock.subject });
    await report.audit.record({
      type: 'auth.lockout',
      action: report.action,
      actor: report.actor,
      context: report.context,
      outcome: { status: 'denied', code: 'locked_out' },
      details: {
        subject: lock.subject,
        ...(lock.subject === 'key' && subjects.keyId ? { keyId: subjects.keyId } : {}),
        lockoutSeconds: Math.ceil(lock.retryAfterMs / 1000),
      },
    });
  }
}
