import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { fn, parseOptions } from '../core/options.js';
import { sealRecord, type ChainHead } from './chain.js';
import { writeCheckpoint } from './checkpoint.js';
import { createDirUsage } from './dir-usage.js';
import { AuditTrailError, type AuditTrailErrorCode } from './errors.js';
import { createAuditEvent, type AuditEvent, type AuditEventInput } from './event.js';
import { firstLine, rotatedName, streamFiles } from './files.js';
import { acquireAuditLock } from './lock.js';
import { checkAgainstCheckpoint, resumeHead, seqOf } from './resume.js';
import type { AuditLogger } from './types.js';

const optionsSchema = z.strictObject({
  dir: z.string().min(1),
  stream: z
    .string()
    .regex(/^[A-Za-z0-9_]{1,32}$/)
    .default('audit'),
  hmacKey: z.string().min(32).optional(),
  fsync: z.boolean().default(false),
  maxFileBytes: z
    .number()
    .int()
    .min(4096)
    .default(100 * 1024 * 1024),
  rotateDaily: z.boolean().default(true),
  retentionDays: z.number().int().min(0).default(0),
  maxDirBytes: z.number().int().min(0).default(0),
  checkpointIntervalMs: z.number().int().min(100).default(10_000),
  lockStaleMs: z.number().int().min(1_000).default(60_000),
  now: fn<() => Date>().optional(),
  onWrite: fn<(event: AuditEvent) => void>().optional(),
  onError: fn<(error: unknown) => void>().optional(),
});

export interface JsonlAuditOptions {
  /** Directory of the trail; created with mode 0700. */
  dir: string;
  /** Name of this writer's chain: files `<stream>.jsonl` and rotated `<stream>-<seq>-<time>.jsonl`. Default `audit`. */
  stream?: string;
  /** HMAC key (at least 32 characters): without it nobody can rebuild the chain or forge a checkpoint after an edit. */
  hmacKey?: string;
  /** Also `fsync` each group of events (survives power loss, not just a process kill). Default false. */
  fsync?: boolean;
  /** Start a new file once the current one reaches this size. Default 100 MiB. */
  maxFileBytes?: number;
  /** Start a new file when the UTC day changes. Default true. */
  rotateDaily?: boolean;
  /** Delete rotated files older than this many days (0: keep everything). Default 0. */
  retentionDays?: number;
  /**
   * Byte budget of the whole audit directory (0: none). Once a write would pass it, one
   * `audit.budget_reached` record is written and every later record is refused (its request
   * fails closed, `healthy()` is false) until files are moved away; then an `audit.resumed`
   * record says how many were refused. Default 0.
   */
  maxDirBytes?: number;
  /** Write a checkpoint of the chain head this often while records arrive (also at rotation and close). Default 10 s. */
  checkpointIntervalMs?: number;
  /** A lock file not refreshed for this long is a dead writer's and is taken over. Default 60 s. */
  lockStaleMs?: number;
  /** Clock of the records and of rotation, for tests. */
  now?: () => Date;
  /** Called after each event reached the OS (metrics). */
  onWrite?: (event: AuditEvent) => void;
  /** Called when a write fails (the event's `record` promise rejects too), or a checkpoint cannot be written. */
  onError?: (error: unknown) => void;
}

/** An audit logger that also reports where its chain stands. */
export interface JsonlAuditLogger extends AuditLogger {
  /** Sequence number and hash of the last record written. */
  head(): ChainHead & { time: number | undefined };
  /** Bytes in the audit directory, its budget (0: none), and whether records are refused for it. */
  usage(): { bytes: number; budgetBytes: number; exceeded: boolean };
  /** Writes a checkpoint of the chain head now (also done periodically, at rotation and at close). */
  checkpoint(): void;
}

interface Pending {
  event: AuditEvent;
  resolve: (event: AuditEvent) => void;
  reject: (error: unknown) => void;
}

/**
 * The audit trail: one JSON object per line, each record carrying `seq`, the
 * previous record's hash (`prev`) and its own `hash`, so any edit, deletion,
 * insertion or reordering breaks the chain (`mcp-guard audit verify`). The
 * chain continues across rotated files and across restarts.
 *
 * Events recorded in the same event-loop turn are written together with one
 * `writeSync`: each `record` promise resolves only once its line is in the
 * OS, so a SIGKILL after the response loses nothing, and grouping keeps that
 * cheap under load. A write that fails part-way is cut back, so the next
 * record never follows a torn line.
 *
 * The stream is locked (`<stream>.lock`): a second writer on the same
 * directory throws `AuditTrailError('audit_locked')` here, at creation. A
 * keyed checkpoint of the chain head (`<stream>.checkpoint.json`) is written
 * at creation, periodically, at rotation and at close; `verify` uses it to
 * find records cut off at either end, and a writer refuses to continue a
 * trail that ends before its checkpoint.
 *
 * @example const audit = createJsonlAuditLogger({ dir: './audit', hmacKey: process.env.MCP_AUDIT_HMAC_KEY });
 */
export function createJsonlAuditLogger(options: JsonlAuditOptions): JsonlAuditLogger {
  const parsed = parseOptions('createJsonlAuditLogger', optionsSchema, options);
  const { dir, stream, fsync, maxFileBytes, rotateDaily, retentionDays, maxDirBytes, checkpointIntervalMs, onWrite, onError } = parsed;
  const key = parsed.hmacKey ? Buffer.from(parsed.hmacKey, 'utf8') : undefined;
  const now = parsed.now ?? (() => new Date());
  const path = join(dir, `${stream}.jsonl`);

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = acquireAuditLock(dir, stream, { staleMs: parsed.lockStaleMs });
  const usage = createDirUsage(dir, Date.now);

  let fd: number | undefined;
  let head: ChainHead;
  let headTime: number | undefined;
  let currentFirstSeq: number | undefined;
  let trailFirstSeq: number;
  let checkpointed = { seq: -1, firstSeq: -1 };
  let lastCheckpointAt = 0;
  let currentDay: string | undefined;
  let size = 0;
  let pending: Pending[] = [];
  let scheduled = false;
  let closed = false;
  /** Why records are refused (undefined: they are not), since when, and how many were. */
  let failure: AuditTrailErrorCode | 'write' | undefined;
  let failedAt: Date | undefined;
  let refused = 0;
  let budgetExceeded = false;

  const day = (date: Date) => date.toISOString().slice(0, 10);

  const release = (): void => {
    if (fd === undefined) return;
    try {
      closeSync(fd);
    } catch {
      // already unusable
    }
    fd = undefined;
  };

  /** Makes what was written so far durable, so a checkpoint never names records a power loss could take back. */
  const syncTrail = (): void => {
    if (fd !== undefined) return fsyncSync(fd);
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat?.isFile()) return;
    const reader = openSync(path, 'r');
    try {
      fsyncSync(reader);
    } finally {
      closeSync(reader);
    }
  };

  const saveCheckpoint = (): void => {
    syncTrail();
    writeCheckpoint(dir, { stream, seq: head.seq, hash: head.hash, firstSeq: trailFirstSeq, time: now().toISOString() }, key);
    checkpointed = { seq: head.seq, firstSeq: trailFirstSeq };
    lastCheckpointAt = now().getTime();
  };
  const checkpoint = (): void => {
    try {
      saveCheckpoint();
    } catch (error) {
      onError?.(error);
    }
  };

  // Only the oldest files, in order, so retention never leaves a hole in the middle of the chain.
  const applyRetention = (): void => {
    if (retentionDays <= 0) return;
    const cutoff = now().getTime() - retentionDays * 86_400_000;
    const files = streamFiles(dir, stream).filter((file) => file !== path);
    let doomed = 0;
    while (doomed < files.length && (statSync(files[doomed]!, { throwIfNoEntry: false })?.mtimeMs ?? cutoff) < cutoff) doomed += 1;
    if (doomed === 0) return;
    const survivor = files[doomed];
    const firstSeq = (survivor ? seqOf(firstLine(survivor)) : currentFirstSeq) ?? head.seq + 1;
    // The checkpoint moves its start first: a crash before the deletions leaves files it no
    // longer needs, never a gap it does not know of.
    const previousFirst = trailFirstSeq;
    trailFirstSeq = firstSeq;
    try {
      saveCheckpoint();
    } catch (error) {
      trailFirstSeq = previousFirst;
      onError?.(error);
      return;
    }
    for (const file of files.slice(0, doomed)) {
      try {
        unlinkSync(file);
      } catch {
        // already gone: the next rotation tries again
      }
    }
    usage.scan();
  };

  const open = (): number => {
    if (fd !== undefined) {
      // A trail deleted, rotated or replaced under us would swallow events into an unlinked
      // file: write to whatever now sits at the path, or fail.
      const held = fstatSync(fd);
      const current = statSync(path, { throwIfNoEntry: false });
      if (current && current.ino === held.ino && current.dev === held.dev) return fd;
      release();
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    fd = openSync(path, 'a', 0o600);
    const stat = fstatSync(fd);
    size = stat.size;
    currentDay = size > 0 ? day(stat.mtime) : undefined;
    return fd;
  };

  const rotate = (at: Date): void => {
    if (fd !== undefined) fsyncSync(fd);
    release();
    renameSync(path, join(dir, rotatedName(stream, currentFirstSeq ?? head.seq, at)));
    currentFirstSeq = undefined;
    applyRetention();
    checkpoint();
  };

  /** Opens the current file, rotating first when it is full or from another day. */
  const prepare = (at: Date): void => {
    open();
    if (size > 0 && (size >= maxFileBytes || (rotateDaily && currentDay !== undefined && currentDay !== day(at)))) {
      rotate(at);
      open();
    }
  };

  const seal = (events: AuditEvent[]): { data: Buffer; next: ChainHead } => {
    let { seq, hash } = head;
    const lines: string[] = [];
    for (const event of events) {
      seq += 1;
      const sealed = sealRecord(JSON.stringify({ seq, ...event, prev: hash }), key);
      hash = sealed.hash;
      lines.push(sealed.line);
    }
    return { data: Buffer.from(lines.join(''), 'utf8'), next: { seq, hash } };
  };

  const append = ({ data, next }: { data: Buffer; next: ChainHead }, at: Date): void => {
    try {
      let offset = 0;
      while (offset < data.length) offset += writeSync(fd!, data, offset, data.length - offset);
      if (fsync) fsyncSync(fd!);
    } catch (error) {
      // Part of the group may be in the file (a full disk): cut it back, or the next record
      // would follow a torn line and the head would not match the file.
      try {
        ftruncateSync(fd!, size);
      } catch {
        // nothing was written, or the file is gone
      }
      throw error;
    }
    if (currentFirstSeq === undefined) currentFirstSeq = head.seq + 1;
    head = next;
    headTime = at.getTime();
    size += data.length;
    usage.add(data.length);
    currentDay ??= day(at);
  };

  const overBudget = (extra: number): boolean =>
    maxDirBytes > 0 && usage.bytes() + extra > maxDirBytes && usage.scanIfOlder(1_000) + extra > maxDirBytes;

  /** Writes the one `audit.budget_reached` record (past the budget: it is the last) and refuses from now on. */
  const reachBudget = (at: Date): AuditTrailError => {
    if (!budgetExceeded) {
      budgetExceeded = true;
      const event = createAuditEvent(
        {
          type: 'audit.budget_reached',
          action: 'audit budget reached',
          outcome: { status: 'error', code: 'budget_reached' },
          details: { budgetBytes: maxDirBytes, usedBytes: usage.bytes() },
        },
        at,
      );
      try {
        prepare(at);
        append(seal([event]), at);
        onWrite?.(event);
      } catch {
        // the directory cannot take even this record; the refusals below still fail closed
      }
    }
    return new AuditTrailError(
      'audit_budget_reached',
      `the audit directory ${dir} holds ${usage.bytes()} bytes of its ${maxDirBytes}-byte budget: records are refused until files are moved away`,
    );
  };

  const resumedEvent = (at: Date): AuditEvent =>
    createAuditEvent(
      {
        type: 'audit.resumed',
        action: 'audit resumed',
        outcome: { status: 'success', code: failure === 'write' ? 'write_failed' : failure },
        details: { refusedRecords: refused, since: failedAt?.toISOString() ?? null },
      },
      at,
    );

  const lockLost = (): AuditTrailError =>
    new AuditTrailError(
      'audit_lock_lost',
      `the lock ${lock.path} of the audit stream is gone or held by another writer: this writer stops rather than fork the chain (restart it once the directory is its own again)`,
    );

  /** Writes `events`, preceded by `audit.resumed` after a failure; throws without writing when it cannot. */
  const write = (events: AuditEvent[]): void => {
    if (failure === 'audit_lock_lost' || !lock.held()) throw lockLost();
    const at = now();
    prepare(at);
    const resumed = failure === undefined ? [] : [resumedEvent(at)];
    const sealed = seal([...resumed, ...events]);
    if (overBudget(sealed.data.length)) throw reachBudget(at);
    append(sealed, at);
    failure = undefined;
    failedAt = undefined;
    refused = 0;
    budgetExceeded = false;
    for (const event of resumed) onWrite?.(event);
  };

  const fail = (error: unknown, records: number): void => {
    const code = error instanceof AuditTrailError ? error.code : 'write';
    if (code !== 'audit_budget_reached') release();
    if (failure === undefined || code === 'audit_lock_lost') failure = code;
    failedAt ??= now();
    refused += records;
    onError?.(error);
  };

  const flush = (): void => {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    try {
      write(batch.map((item) => item.event));
      for (const item of batch) {
        onWrite?.(item.event);
        item.resolve(item.event);
      }
    } catch (error) {
      fail(error, batch.length);
      for (const item of batch) item.reject(error);
    }
  };

  // Start: continue the chain on disk, unless it ends before its checkpoint.
  try {
    const resumed = resumeHead(dir, stream);
    head = resumed.head;
    currentFirstSeq = resumed.currentFirstSeq;
    checkAgainstCheckpoint(dir, stream, head, key);
    const [first] = streamFiles(dir, stream);
    trailFirstSeq = (first ? seqOf(firstLine(first)) : undefined) ?? head.seq + 1;
    applyRetention();
    saveCheckpoint();
    usage.scan();
  } catch (error) {
    lock.release();
    throw error;
  }

  const maintain = (): void => {
    if (closed) return;
    if (lock.held()) lock.refresh();
    else if (failure !== 'audit_lock_lost') fail(lockLost(), 0);
    usage.scan();
    const moved = head.seq !== checkpointed.seq || trailFirstSeq !== checkpointed.firstSeq;
    if (failure === undefined && moved && now().getTime() - lastCheckpointAt >= checkpointIntervalMs) checkpoint();
  };
  const timer = setInterval(maintain, Math.min(checkpointIntervalMs, Math.floor(parsed.lockStaleMs / 6)));
  timer.unref();

  return {
    record(input: AuditEventInput): Promise<AuditEvent> {
      if (closed) return Promise.reject(new Error('audit log is closed'));
      let event: AuditEvent;
      try {
        event = createAuditEvent(input);
      } catch (error) {
        return Promise.reject(error);
      }
      return new Promise<AuditEvent>((resolve, reject) => {
        pending.push({ event, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    healthy(): boolean {
      if (closed) return failure === undefined;
      if (failure === 'audit_lock_lost') return false;
      if (maxDirBytes > 0 && usage.scanIfOlder(1_000) >= maxDirBytes) {
        // Reached without a write of ours (other files grew): refuse before a request finds out.
        if (failure === undefined) fail(reachBudget(now()), 0);
        return false;
      }
      if (failure === undefined) return true;
      // Unhealthy until a record is written again: probe with a real write (an `audit.resumed`
      // record), so a repaired trail turns ready without waiting for traffic the load balancer
      // withholds, and a full disk that still lets the file open does not pass for repaired.
      try {
        write([]);
      } catch (error) {
        if (!(error instanceof AuditTrailError)) release();
      }
      return failure === undefined;
    },
    head: () => ({ ...head, time: headTime }),
    usage: () => ({ bytes: usage.bytes(), budgetBytes: maxDirBytes, exceeded: budgetExceeded }),
    checkpoint,
    async close(): Promise<void> {
      flush();
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (failure !== 'audit_lock_lost' && lock.held()) checkpoint();
      release();
      lock.release();
    },
  };
}

/**
 * {@link createJsonlAuditLogger} for short-lived writers such as the CLI:
 * while another writer holds the stream's lock, retries for up to `waitMs`
 * (default 5 s) instead of failing at once, so two `mcp-guard keys` commands
 * run one after the other on the `cli` stream rather than fork it.
 */
export async function openJsonlAuditLogger(options: JsonlAuditOptions, waitMs = 5_000): Promise<JsonlAuditLogger> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return createJsonlAuditLogger(options);
    } catch (error) {
      if (!(error instanceof AuditTrailError && error.code === 'audit_locked') || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
