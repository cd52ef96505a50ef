import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { fn, parseOptions } from '../core/options.js';
import { GENESIS, sealRecord, unsealRecord, type ChainHead } from './chain.js';
import { createAuditEvent, type AuditEvent, type AuditEventInput } from './event.js';
import { firstLine, lastLine, rotatedName, streamFiles } from './files.js';
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
  now: fn<() => Date>().optional(),
  onWrite: fn<(event: AuditEvent) => void>().optional(),
  onError: fn<(error: unknown) => void>().optional(),
});

export interface JsonlAuditOptions {
  /** Directory of the trail; created with mode 0700. */
  dir: string;
  /** Name of this writer's chain: files `<stream>.jsonl` and rotated `<stream>-<seq>-<time>.jsonl`. Default `audit`. */
  stream?: string;
  /** HMAC key (at least 32 characters): without it nobody can rebuild the chain after an edit. */
  hmacKey?: string;
  /** Also `fsync` each group of events (survives power loss, not just a process kill). Default false. */
  fsync?: boolean;
  /** Start a new file once the current one reaches this size. Default 100 MiB. */
  maxFileBytes?: number;
  /** Start a new file when the UTC day changes. Default true. */
  rotateDaily?: boolean;
  /** Delete rotated files older than this many days (0: keep everything). Default 0. */
  retentionDays?: number;
  /** Clock, for tests. */
  now?: () => Date;
  /** Called after each event reached the OS (metrics). */
  onWrite?: (event: AuditEvent) => void;
  /** Called when a write fails (the event's `record` promise rejects too). */
  onError?: (error: unknown) => void;
}

/** An audit logger that also reports where its chain stands. */
export interface JsonlAuditLogger extends AuditLogger {
  /** Sequence number and hash of the last record written. */
  head(): ChainHead & { time: number | undefined };
}

interface Pending {
  event: AuditEvent;
  resolve: (event: AuditEvent) => void;
  reject: (error: unknown) => void;
}

/** Where a stream's chain ends on disk, so a restarted writer continues it. */
function resumeHead(dir: string, stream: string): { head: ChainHead; currentFirstSeq: number | undefined } {
  const files = streamFiles(dir, stream);
  const current = join(dir, `${stream}.jsonl`);
  for (let i = files.length - 1; i >= 0; i -= 1) {
    const file = files[i]!;
    const { line, completeBytes, size } = lastLine(file);
    // A torn last line (a crash in the middle of a write) was never acknowledged: drop it.
    if (completeBytes < size) {
      const fd = openSync(file, 'r+');
      try {
        ftruncateSync(fd, completeBytes);
      } finally {
        closeSync(fd);
      }
    }
    if (!line) continue;
    const sealed = unsealRecord(line);
    const seq = sealed ? (JSON.parse(sealed.body) as { seq?: unknown }).seq : undefined;
    if (!sealed || typeof seq !== 'number') throw new Error(`the audit trail ends with a record that is not chained: ${file}`);
    const first = file === current ? firstLine(file) : undefined;
    const firstSeq = first ? (JSON.parse(first) as { seq?: number }).seq : undefined;
    return { head: { seq, hash: sealed.hash }, currentFirstSeq: file === current ? firstSeq : undefined };
  }
  return { head: { seq: 0, hash: GENESIS }, currentFirstSeq: undefined };
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
 * cheap under load.
 *
 * @example const audit = createJsonlAuditLogger({ dir: './audit', hmacKey: process.env.MCP_AUDIT_HMAC_KEY });
 */
export function createJsonlAuditLogger(options: JsonlAuditOptions): JsonlAuditLogger {
  const parsed = parseOptions('createJsonlAuditLogger', optionsSchema, options);
  const { dir, stream, fsync, maxFileBytes, rotateDaily, retentionDays, onWrite, onError } = parsed;
  const key = parsed.hmacKey ? Buffer.from(parsed.hmacKey, 'utf8') : undefined;
  const now = parsed.now ?? (() => new Date());
  const path = join(dir, `${stream}.jsonl`);

  let fd: number | undefined;
  let head: ChainHead | undefined;
  let headTime: number | undefined;
  let currentFirstSeq: number | undefined;
  let currentDay: string | undefined;
  let size = 0;
  let pending: Pending[] = [];
  let scheduled = false;
  let healthy = true;
  let closed = false;

  const day = (date: Date) => date.toISOString().slice(0, 10);

  const applyRetention = (): void => {
    if (retentionDays <= 0) return;
    const cutoff = now().getTime() - retentionDays * 86_400_000;
    for (const file of streamFiles(dir, stream)) {
      if (file === path) continue;
      try {
        if (statSync(file).mtimeMs < cutoff) unlinkSync(file);
      } catch {
        // already gone, or not ours to delete: the next rotation tries again
      }
    }
  };

  const release = (): void => {
    if (fd === undefined) return;
    try {
      closeSync(fd);
    } catch {
      // already unusable
    }
    fd = undefined;
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
    if (!head) {
      const resumed = resumeHead(dir, stream);
      head = resumed.head;
      currentFirstSeq = resumed.currentFirstSeq;
      applyRetention();
    }
    fd = openSync(path, 'a', 0o600);
    const stat = statSync(path);
    size = stat.size;
    currentDay = size > 0 ? day(stat.mtime) : undefined;
    return fd;
  };

  const rotate = (at: Date): void => {
    release();
    renameSync(path, join(dir, rotatedName(stream, currentFirstSeq ?? head!.seq, at)));
    currentFirstSeq = undefined;
    applyRetention();
  };

  const flush = (): void => {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    try {
      open();
      const at = now();
      if (size > 0 && (size >= maxFileBytes || (rotateDaily && currentDay !== undefined && currentDay !== day(at)))) {
        rotate(at);
        open();
      }
      let { seq, hash } = head!;
      const lines: string[] = [];
      for (const item of batch) {
        seq += 1;
        const body = JSON.stringify({ seq, ...item.event, prev: hash });
        const sealed = sealRecord(body, key);
        hash = sealed.hash;
        lines.push(sealed.line);
      }
      const data = Buffer.from(lines.join(''), 'utf8');
      let offset = 0;
      while (offset < data.length) offset += writeSync(fd!, data, offset, data.length - offset);
      if (fsync) fsyncSync(fd!);
      if (currentFirstSeq === undefined) currentFirstSeq = head!.seq + 1;
      head = { seq, hash };
      headTime = at.getTime();
      size += data.length;
      currentDay ??= day(at);
      healthy = true;
      for (const item of batch) {
        onWrite?.(item.event);
        item.resolve(item.event);
      }
    } catch (error) {
      healthy = false;
      release();
      onError?.(error);
      for (const item of batch) item.reject(error);
    }
  };

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
      // Unhealthy until a write succeeds again; probe by opening, so a repaired trail turns
      // ready without waiting for traffic the load balancer withholds.
      if (!healthy && !closed) {
        try {
          open();
          healthy = true;
        } catch {
          release();
        }
      }
      return healthy;
    },
    head: () => ({ ...(head ?? { seq: 0, hash: GENESIS }), time: headTime }),
    async close(): Promise<void> {
      flush();
      closed = true;
      if (fd !== undefined) {
        closeSync(fd);
        fd = undefined;
      }
    },
  };
}
