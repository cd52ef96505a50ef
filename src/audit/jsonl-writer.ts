import { closeSync, fstatSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { fn, parseOptions } from '../core/options.js';
import { createAuditEvent, type AuditEvent, type AuditEventInput } from './event.js';
import type { AuditLogger } from './types.js';

const optionsSchema = z
  .object({
    dir: z.string().min(1),
    fileName: z.string().regex(/^[\w.-]+$/).default('audit.jsonl'),
    onWrite: fn<(event: AuditEvent) => void>().optional(),
    onError: fn<(error: unknown) => void>().optional(),
  })
  .strict();

export interface JsonlAuditOptions {
  /** Directory of the trail; created with mode 0700. */
  dir: string;
  /** File name inside `dir`. Default `audit.jsonl`. */
  fileName?: string;
  /** Called after each event reached the OS (metrics). */
  onWrite?: (event: AuditEvent) => void;
  /** Called when a write fails (the event's `record` promise rejects too). */
  onError?: (error: unknown) => void;
}

interface Pending {
  event: AuditEvent;
  resolve: (event: AuditEvent) => void;
  reject: (error: unknown) => void;
}

/**
 * An audit logger appending one JSON object per line. Events recorded in the
 * same event-loop turn are written together with one `writeSync`, so each
 * `record` promise resolves only once its line is in the OS, not in a
 * user-space buffer: a SIGKILL after the response loses nothing.
 *
 * @example const audit = createJsonlAuditLogger({ dir: './audit' });
 */
export function createJsonlAuditLogger(options: JsonlAuditOptions): AuditLogger {
  const { dir, fileName, onWrite, onError } = parseOptions('createJsonlAuditLogger', optionsSchema, options);
  const path = join(dir, fileName);
  let fd: number | undefined;
  let pending: Pending[] = [];
  let scheduled = false;
  let healthy = true;
  let closed = false;

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
      // A trail deleted, rotated or replaced under us would swallow events
      // into an unlinked file: write to whatever now sits at the path, or fail.
      const held = fstatSync(fd);
      const current = statSync(path, { throwIfNoEntry: false });
      if (!current || current.ino !== held.ino || current.dev !== held.dev) release();
    }
    if (fd === undefined) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      fd = openSync(path, 'a', 0o600);
    }
    return fd;
  };

  const flush = (): void => {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    try {
      const data = Buffer.from(batch.map((item) => `${JSON.stringify(item.event)}\n`).join(''), 'utf8');
      const handle = open();
      let offset = 0;
      while (offset < data.length) offset += writeSync(handle, data, offset, data.length - offset);
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
      // Unhealthy until a write succeeds again; probe by opening, so a repaired
      // trail turns ready without waiting for traffic the balancer withholds.
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
