import { statSync } from 'node:fs';
import type { Logger } from '../logging/logger.js';
import { describeError } from '../logging/redact.js';
import type { DefinitionSet } from './canonical.js';
import { sectionFor } from './evaluate.js';
import { readLock, updateLock, type LockState } from './lock.js';
import type { ScreeningLimits } from './screen.js';

/** Options of {@link createLockWatcher}. */
export interface LockWatcherOptions {
  /** The lock file. */
  path: string;
  /**
   * How often the file is checked for a change (its size, times and inode;
   * read again only when one moved). Default 2000 ms; 0 turns polling off
   * (then only `reload()` reads it, for example on SIGHUP).
   */
  pollMs?: number;
  logger?: Logger;
}

/**
 * One process's view of the lock file, shared by every upstream it guards.
 * Every replica reads the same file: an approval written by
 * `mcp-guard tools approve` (an atomic rename) is seen by each within one
 * poll, or at once on `reload()`.
 */
export interface LockWatcher {
  readonly path: string;
  /** The lock as last read. */
  state(): LockState;
  /** Increases each time what was read changed: verdicts computed before are stale. */
  generation(): number;
  /** Reads the file again now; true when it changed. */
  reload(): boolean;
  /** Called after each change. Returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  /**
   * Trust on first use: pins `definitions` as the upstream's section, unless
   * the lock already has one (another replica may have been first) or cannot
   * be read. Resolves with `pinned`, `exists` or `failed` (logged).
   */
  pinFirstUse(upstream: string, definitions: DefinitionSet, limits: ScreeningLimits): Promise<'pinned' | 'exists' | 'failed'>;
  close(): void;
}

/** Reads the lock at `path` now and keeps it current (polling, `reload()`). */
export function createLockWatcher(options: LockWatcherOptions): LockWatcher {
  const { path, pollMs = 2000, logger } = options;
  let current: LockState = readLock(path);
  let seenOk = current.state === 'ok';
  let generation = 0;
  let fingerprint = fingerprintOf(path);
  const listeners = new Set<() => void>();

  const reload = (): boolean => {
    fingerprint = fingerprintOf(path);
    let next = readLock(path);
    // A lock that was there and went away is not "no lock yet": nothing is trusted on first use again.
    if (next.state === 'missing' && seenOk) next = { state: 'unreadable', reason: 'the lock was removed' };
    const changed =
      next.state !== current.state ||
      (next.state === 'ok' && current.state === 'ok' && next.digest !== current.digest) ||
      (next.state === 'unreadable' && current.state === 'unreadable' && next.reason !== current.reason);
    if (!changed) return false;
    if (next.state === 'unreadable')
      logger?.error('tool lock unusable: pinned upstreams in enforce mode refuse every tool', { file: path, reason: next.reason });
    else if (current.state === 'unreadable') logger?.info('tool lock usable again', { file: path });
    current = next;
    seenOk ||= next.state === 'ok';
    generation += 1;
    for (const listener of listeners) listener();
    return true;
  };

  const timer =
    pollMs > 0
      ? setInterval(() => {
          if (fingerprintOf(path) !== fingerprint) reload();
        }, pollMs)
      : undefined;
  timer?.unref();

  return {
    path,
    state: () => current,
    generation: () => generation,
    reload,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async pinFirstUse(upstream, definitions, limits) {
      try {
        const result = await updateLock(path, (lock) => {
          if (Object.hasOwn(lock.upstreams, upstream)) return { result: 'exists' as const };
          lock.upstreams[upstream] = sectionFor(definitions, 'trust-on-first-use', new Date(), limits);
          return { lock, result: 'pinned' as const };
        });
        reload();
        return result;
      } catch (error) {
        logger?.error('trust on first use failed: the tool lock was not written', { file: path, upstream, error: describeError(error) });
        reload();
        return 'failed';
      }
    },
    close() {
      if (timer) clearInterval(timer);
      listeners.clear();
    },
  };
}

/** What tells a changed file from an unchanged one without reading it. */
function fingerprintOf(path: string): string {
  try {
    const stats = statSync(path, { bigint: true });
    return `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}:${stats.mode}`;
  } catch (error) {
    return `absent:${(error as NodeJS.ErrnoException).code ?? ''}`;
  }
}
