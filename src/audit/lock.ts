import { randomUUID } from 'node:crypto';
import { closeSync, fstatSync, futimesSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AuditTrailError } from './errors.js';

/** Who holds a stream's lock, as written in `<stream>.lock`. */
export interface AuditLockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** Random id of this holding, so a takeover never removes a fresher lock than the one it judged stale. */
  instance: string;
}

/** Options of {@link acquireAuditLock}. */
export interface AuditLockOptions {
  /** A lock whose file was not refreshed for this long (by the wall clock, not a test clock) is stale and taken over. */
  staleMs: number;
  /** This process's id and host name; defaults `process.pid` and `os.hostname()`. */
  pid?: number;
  host?: string;
  /** Whether a process of this host is alive; default `process.kill(pid, 0)`. */
  isAlive?: (pid: number) => boolean;
}

/** A held stream lock. */
export interface AuditLock {
  readonly path: string;
  readonly owner: AuditLockOwner;
  /** True while the file at `path` is still the one this holder created (not removed, not taken over). */
  held(): boolean;
  /** Touches the lock file, so other hosts do not take it for the lock of a dead writer. */
  refresh(): void;
  release(): void;
}

// Lock files this process holds: a second writer in the same process is refused like any other.
const heldHere = new Set<string>();

function defaultIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): AuditLockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Partial<AuditLockOwner>;
    if (typeof owner.pid !== 'number' || typeof owner.host !== 'string' || typeof owner.instance !== 'string') return undefined;
    return { pid: owner.pid, host: owner.host, since: String(owner.since ?? ''), instance: owner.instance };
  } catch {
    return undefined;
  }
}

/**
 * Takes `<dir>/<stream>.lock` (created exclusively, holding pid, host, time
 * and a random instance id), so that two writers, such as two replicas
 * given one audit directory, can never write one chain at once: the second
 * is refused with an `AuditTrailError('audit_locked')` naming the owner.
 *
 * A lock left by a dead writer is taken over: at once when its pid is gone
 * on this host (or is our own pid: a restarted container), otherwise once its
 * file was not refreshed for `staleMs` (the holder refreshes it well within).
 * The takeover moves the old file aside and checks it was the one judged
 * stale, so two starting writers cannot both win.
 */
export function acquireAuditLock(dir: string, stream: string, options: AuditLockOptions): AuditLock {
  const path = join(dir, `${stream}.lock`);
  const pid = options.pid ?? process.pid;
  const host = options.host ?? hostname();
  const isAlive = options.isAlive ?? defaultIsAlive;

  const refuse = (owner: AuditLockOwner | undefined): AuditTrailError => {
    const who = owner ? `process ${owner.pid} on ${owner.host} (since ${owner.since})` : 'another writer';
    return new AuditTrailError(
      'audit_locked',
      `the audit stream "${stream}" in ${dir} is in use by ${who}: two writers on one audit directory would fork the hash chain. ` +
        `Give each replica its own MCP_AUDIT_DIR. If that process is gone, its lock is taken over once it is ${Math.round(options.staleMs / 1000)} s old, or delete ${path}.`,
    );
  };

  const isStale = (owner: AuditLockOwner | undefined, mtimeMs: number): boolean => {
    if (Date.now() - mtimeMs > options.staleMs) return true;
    if (!owner || owner.host !== host) return false;
    // Our own pid in a lock we do not hold: a previous run of this container or process.
    return owner.pid === pid || !isAlive(owner.pid);
  };

  const takeOver = (judged: AuditLockOwner | undefined): void => {
    const aside = `${path}.${randomUUID()}.stale`;
    try {
      renameSync(path, aside);
    } catch {
      return; // gone already: someone else took it, the next attempt sees theirs
    }
    if (judged && readOwner(aside)?.instance !== judged.instance) {
      // We moved a fresher lock than the one judged stale: put it back.
      try {
        linkSync(aside, path);
      } catch {
        // another writer's lock is there now; it wins
      }
    }
    rmSync(aside, { force: true });
  };

  if (heldHere.has(path)) throw refuse(readOwner(path));
  for (let attempt = 0; attempt < 3; attempt += 1) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = readOwner(path);
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat && !isStale(owner, stat.mtimeMs)) throw refuse(owner);
      if (stat) takeOver(owner);
      continue;
    }
    const owner: AuditLockOwner = { pid, host, since: new Date().toISOString(), instance: randomUUID() };
    writeSync(fd, `${JSON.stringify(owner)}\n`);
    const { ino, dev } = fstatSync(fd);
    heldHere.add(path);
    let released = false;
    const held = (): boolean => {
      const current = statSync(path, { throwIfNoEntry: false });
      return !released && current !== undefined && current.ino === ino && current.dev === dev;
    };
    return {
      path,
      owner,
      held,
      refresh() {
        const at = new Date();
        futimesSync(fd, at, at);
      },
      release() {
        if (released) return;
        try {
          if (held()) unlinkSync(path);
        } finally {
          released = true;
          heldHere.delete(path);
          closeSync(fd);
        }
      },
    };
  }
  throw refuse(readOwner(path));
}
