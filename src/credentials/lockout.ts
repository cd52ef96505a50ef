import { isIP } from 'node:net';
import { z } from 'zod';
import type { AuditEventInput } from '../audit/event.js';
import type { AuditLogger } from '../audit/types.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { parseOptions, service } from '../core/options.js';
import type { StateStore } from '../stores/types.js';

/** What a failed attempt is counted against. */
export interface LockoutSubjects {
  ip?: string;
  /** The key id embedded in a presented API key (even a wrong one); counted together with `ip`. */
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
  /** Where failures and locks are counted: Redis to share them between replicas, or a memory store of the lockout's own. */
  store: StateStore;
  /**
   * Local store that counts failures while `store` fails (Redis down or hung). Without it, a failing
   * store makes `check` and `recordFailure` throw, and the request is refused (fail closed).
   */
  fallback?: StateStore;
  /** Failures allowed per subject within the window. Default 5. */
  maxAttempts?: number;
  /** Window failures are counted in, ms. Default 15 minutes. */
  windowMs?: number;
  /** How long a subject stays locked, ms. Default 30 minutes. */
  lockoutMs?: number;
  /** Locks remembered in this process, apart from every counter, so no flood of counters evicts one. Default 100,000. */
  maxLocalLocks?: number;
  /** Key namespace in the store. Default `lockout:`. */
  prefix?: string;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

const optionsSchema = z.strictObject({
  store: service<StateStore>(),
  fallback: service<StateStore>().optional(),
  maxAttempts: z.number().int().min(1).max(1000).optional(),
  windowMs: z.number().int().min(1000).optional(),
  lockoutMs: z.number().int().min(1000).optional(),
  maxLocalLocks: z.number().int().min(1).max(10_000_000).optional(),
  prefix: z.string().min(1).max(64).optional(),
  now: z.custom<() => number>((value) => typeof value === 'function').optional(),
});

/**
 * The address a lockout counts against: IPv4 addresses (also IPv4-mapped IPv6) as they are, IPv6
 * addresses by their /64, the smallest block one subscriber is usually given (one attacker rotating
 * through a /64 is one subject, not 2^64).
 */
export function lockoutAddress(ip: string): string {
  const bare = ip.toLowerCase().split('%')[0]!;
  if (bare.startsWith('::ffff:') && isIP(bare.slice(7)) === 4) return bare.slice(7);
  if (isIP(bare) !== 6) return bare;
  const [head = '', tail] = bare.split('::');
  const parts = (text: string): string[] => (text ? text.split(':') : []);
  const left = parts(head);
  const right = tail === undefined ? [] : parts(tail);
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * Creates the lockout: after `maxAttempts` failures from one address (an IPv6 /64), or against one
 * key id from one address, within `windowMs`, that subject is refused for `lockoutMs`. A key id is
 * never locked for everyone: key ids are not secret, and a lock on the id alone would let anyone
 * lock the genuine holder out with five bad guesses (the secret has 256 bits: guessing it is
 * hopeless anyway, at any rate).
 *
 * Locks are also remembered in this process, apart from the counters, so that a flood of failures
 * from distinct addresses (which fills the counter store) never evicts one. With a `fallback`, a
 * store that fails (Redis down or hung) degrades like the rate limits: failures are counted locally,
 * every lock this process knows stays in force, and locks engaged meanwhile are written to the
 * store once it answers again. Successful requests cost one store read per subject.
 *
 * @example const lockout = createLockout({ store, maxAttempts: 5, windowMs: 15 * 60_000, lockoutMs: 30 * 60_000 });
 */
export function createLockout(options: LockoutOptions): Lockout {
  const {
    store,
    fallback,
    maxAttempts = 5,
    windowMs = 15 * 60_000,
    lockoutMs = 30 * 60_000,
    maxLocalLocks = 100_000,
    prefix = 'lockout:',
    now = Date.now,
  } = parseOptions('createLockout', optionsSchema, options);
  type Subject = { subject: LockState['subject']; id: string };
  const subjectsOf = (subjects: LockoutSubjects): Subject[] => {
    const address = subjects.ip ? lockoutAddress(subjects.ip) : undefined;
    return [
      ...(address ? [{ subject: 'ip' as const, id: address }] : []),
      ...(subjects.keyId ? [{ subject: 'key' as const, id: address ? `${subjects.keyId}@${address}` : subjects.keyId }] : []),
    ];
  };
  const lockKey = ({ subject, id }: Subject): string => `${prefix}lock:${subject}:${id}`;
  const failKey = ({ subject, id }: Subject): string => `${prefix}fail:${subject}:${id}`;

  // Locks known here (engaged or seen in the store), oldest first; evicted only by other locks.
  const locks = new Map<string, number>();
  const remember = (key: string, until: number): void => {
    locks.delete(key);
    locks.set(key, until);
    if (locks.size > maxLocalLocks) locks.delete(locks.keys().next().value!);
  };
  // Locks engaged while the store failed, to be written to it once it answers.
  const pending = new Map<string, number>();

  /** Runs `operation` on the store; on failure (or a store that says it is down) on the fallback, or throws. */
  const shared = async <T>(operation: (target: StateStore) => Promise<T>): Promise<{ value: T; shared: boolean }> => {
    if (store.healthy() || !fallback) {
      try {
        const value = await operation(store);
        if (pending.size) await flushPending();
        return { value, shared: true };
      } catch (error) {
        if (!fallback) throw error;
      }
    }
    return { value: await operation(fallback), shared: false };
  };
  const flushPending = async (): Promise<void> => {
    for (const [key, until] of [...pending]) {
      pending.delete(key);
      const left = until - now();
      if (left <= 0) continue;
      try {
        await store.setIfAbsent(key, String(until), left);
      } catch {
        pending.set(key, until);
        return;
      }
    }
  };

  return {
    async check(subjects) {
      if (pending.size && store.healthy()) await flushPending();
      for (const subject of subjectsOf(subjects)) {
        const key = lockKey(subject);
        let until = locks.get(key);
        if (until === undefined || until <= now()) {
          if (until !== undefined) locks.delete(key);
          const { value, shared: fromStore } = await shared((target) => target.get(key));
          until = value === undefined ? undefined : Number(value);
          if (until !== undefined && fromStore) remember(key, until);
        }
        const retryAfterMs = (until ?? 0) - now();
        if (retryAfterMs > 0) return { subject: subject.subject, retryAfterMs };
      }
      return undefined;
    },
    async recordFailure(subjects) {
      if (pending.size && store.healthy()) await flushPending();
      const engaged: LockState[] = [];
      for (const subject of subjectsOf(subjects)) {
        const counted = await shared((target) => target.increment(failKey(subject), windowMs));
        if (counted.value.count < maxAttempts) continue;
        const key = lockKey(subject);
        const until = now() + lockoutMs;
        // One winner across replicas: only the first to set the lock reports it.
        let won: boolean;
        if (counted.shared) {
          const set = await shared((target) => target.setIfAbsent(key, String(until), lockoutMs));
          won = set.value;
          if (won && !set.shared) pending.set(key, until);
        } else {
          won = !((locks.get(key) ?? 0) > now());
          if (won) {
            await fallback!.set(key, String(until), lockoutMs);
            pending.set(key, until);
          }
        }
        if (!won) continue;
        remember(key, until);
        await shared((target) => target.delete(failKey(subject))).catch(() => undefined);
        engaged.push({ subject: subject.subject, retryAfterMs: lockoutMs });
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
