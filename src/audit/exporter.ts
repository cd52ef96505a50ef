import { closeSync, openSync, readFileSync, readSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';
import { streamFiles } from './files.js';
import type { AuditRecord, AuditSink } from './sinks/index.js';

/** Options of {@link createAuditExporter}. */
export interface AuditExporterOptions {
  /** The audit directory (the trail is the spool: nothing is copied). */
  dir: string;
  /** Stream to export. Default `audit`. */
  stream?: string;
  sinks: AuditSink[];
  /** Most bytes a sink may fall behind the trail; beyond it the oldest are skipped and counted. Default 64 MiB. */
  spoolMaxBytes?: number;
  /** Records per request. Default 200. */
  batchSize?: number;
  /** Poll interval while caught up. Default 1000 ms. */
  intervalMs?: number;
  /** First retry delay after a failure, doubled up to `maxBackoffMs`. Defaults 500 ms and 60 s. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
  onSent?(sink: string, records: number): void;
  onFailed?(sink: string, error: unknown): void;
  /** Records skipped because the sink fell more than `spoolMaxBytes` behind. */
  onOverflow?(sink: string, records: number): void;
  /** Bytes the sink is behind the trail, after each pass. */
  onLag?(sink: string, bytes: number): void;
}

export interface AuditExporter {
  /** Sends everything pending now (tests, shutdown); resolves when each sink caught up or failed once. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

interface Cursor {
  file: string;
  offset: number;
}

/**
 * Ships the audit trail to SIEM collectors. Each sink keeps a cursor (file and
 * byte offset, persisted in the audit directory) into the trail, which is
 * itself the durable spool: a collector outage loses nothing while the sink is
 * less than `spoolMaxBytes` behind; beyond that the oldest records are
 * skipped, counted and reported (`onOverflow`, audited as `audit.overflow`).
 * Batches are retried with exponential backoff. Nothing here is on the request
 * path. Delivery is at least once (a crash between a send and the cursor
 * write resends that batch).
 */
export function createAuditExporter(options: AuditExporterOptions): AuditExporter {
  const stream = options.stream ?? 'audit';
  const spoolMaxBytes = options.spoolMaxBytes ?? 64 * 1024 * 1024;
  const batchSize = options.batchSize ?? 200;
  const intervalMs = options.intervalMs ?? 1000;
  const firstBackoff = options.backoffMs ?? 500;
  const maxBackoff = options.maxBackoffMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  let stopped = false;
  const controller = new AbortController();

  const cursorPath = (sink: string) => join(options.dir, `.export-${stream}-${sink}.json`);
  const loadCursor = (sink: string): Cursor | undefined => {
    try {
      return JSON.parse(readFileSync(cursorPath(sink), 'utf8')) as Cursor;
    } catch {
      return undefined;
    }
  };
  const saveCursor = (sink: string, cursor: Cursor) => {
    const path = cursorPath(sink);
    writeFileSync(`${path}.tmp`, JSON.stringify(cursor), { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  };

  /** Reads up to `max` complete lines from `cursor`; moves to the next file at the end of a rotated one. */
  const read = (cursor: Cursor, max: number): { lines: string[]; next: Cursor } => {
    const files = streamFiles(options.dir, stream).map((file) => basename(file));
    let { file, offset } = cursor;
    const lines: string[] = [];
    while (lines.length < max) {
      const index = files.indexOf(file);
      if (index === -1) break;
      const path = join(options.dir, file);
      const size = statSync(path).size;
      if (offset >= size) {
        if (index === files.length - 1) break;
        file = files[index + 1]!;
        offset = 0;
        continue;
      }
      const buffer = Buffer.alloc(Math.min(size - offset, 1024 * 1024));
      const fd = openSync(path, 'r');
      try {
        readSync(fd, buffer, 0, buffer.length, offset);
      } finally {
        closeSync(fd);
      }
      let start = 0;
      while (lines.length < max) {
        const end = buffer.indexOf(10, start);
        if (end === -1) break;
        lines.push(buffer.subarray(start, end).toString('utf8'));
        start = end + 1;
      }
      offset += start;
      if (start === 0) break; // no complete line yet
    }
    return { lines, next: { file, offset } };
  };

  /** Bytes between the cursor and the end of the trail. */
  const lag = (cursor: Cursor): number => {
    let behind = 0;
    let counting = false;
    for (const path of streamFiles(options.dir, stream)) {
      const size = statSync(path).size;
      if (basename(path) === cursor.file) {
        counting = true;
        behind += Math.max(0, size - cursor.offset);
      } else if (counting) behind += size;
    }
    return behind;
  };

  const start = (): Cursor | undefined => {
    const first = streamFiles(options.dir, stream)[0];
    return first ? { file: basename(first), offset: 0 } : undefined;
  };

  // Passes of one sink never overlap (the loop and flush() share the cursor).
  const queues = new Map<string, Promise<unknown>>();
  const pass = (sink: AuditSink): Promise<boolean> => {
    const result = (queues.get(sink.name) ?? Promise.resolve()).catch(() => undefined).then(() => passOnce(sink));
    queues.set(sink.name, result);
    return result;
  };

  /** One pass for one sink: true when it sent something (so the next pass comes at once). */
  const passOnce = async (sink: AuditSink): Promise<boolean> => {
    let cursor = loadCursor(sink.name) ?? start();
    if (!cursor) return false;
    if (!streamFiles(options.dir, stream).some((path) => basename(path) === cursor!.file)) {
      // Its file was removed by retention before it was shipped.
      const fresh = start();
      if (!fresh) return false;
      options.onOverflow?.(sink.name, 0);
      cursor = fresh;
    }
    let behind = lag(cursor);
    if (behind > spoolMaxBytes) {
      let skipped = 0;
      while (behind > spoolMaxBytes) {
        // Skip in steps sized to the excess (records are well over 100 bytes), so no more is dropped than needed.
        const { lines, next } = read(cursor, Math.max(1, Math.floor((behind - spoolMaxBytes) / 1024)));
        if (lines.length === 0) break;
        skipped += lines.length;
        cursor = next;
        behind = lag(cursor);
      }
      saveCursor(sink.name, cursor);
      options.onOverflow?.(sink.name, skipped);
    }
    const { lines, next } = read(cursor, batchSize);
    options.onLag?.(sink.name, behind);
    if (lines.length === 0) return false;
    const records = lines.map((line) => JSON.parse(line) as AuditRecord);
    await sink.send(records, AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]));
    saveCursor(sink.name, next);
    options.onSent?.(sink.name, records.length);
    options.onLag?.(sink.name, lag(next));
    return true;
  };

  const timers = new Map<string, NodeJS.Timeout>();
  const backoff = new Map<string, number>();
  const running = new Map<string, Promise<void>>();
  const loop = (sink: AuditSink) => {
    const run = async () => {
      let delay = intervalMs;
      try {
        delay = (await pass(sink)) ? 0 : intervalMs;
        backoff.delete(sink.name);
      } catch (error) {
        if (stopped) return;
        const next = Math.min(maxBackoff, (backoff.get(sink.name) ?? firstBackoff / 2) * 2);
        backoff.set(sink.name, next);
        delay = next;
        options.onFailed?.(sink.name, error);
      }
      if (!stopped) timers.set(sink.name, setTimeout(() => loop(sink), delay).unref());
    };
    const promise = run();
    running.set(sink.name, promise);
  };
  for (const sink of options.sinks) loop(sink);

  return {
    async flush() {
      for (const sink of options.sinks) {
        await running.get(sink.name);
        for (;;) {
          try {
            if (!(await pass(sink))) break;
          } catch (error) {
            options.onFailed?.(sink.name, error);
            break;
          }
        }
      }
    },
    async stop() {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      controller.abort();
      await Promise.allSettled(running.values());
    },
  };
}
