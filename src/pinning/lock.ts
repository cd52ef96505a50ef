import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { z } from 'zod';
import { DefinitionTooLargeError, definitionHash, stableStringify, type Definition } from './canonical.js';

/** The lock file's default name, beside the gateway file. */
export const LOCK_FILE_NAME = 'tools.lock.json';
/** Largest lock file read (bytes): bounds what a replica holds in memory. */
export const MAX_LOCK_BYTES = 64 * 1024 * 1024;

const HASH = /^sha256:[0-9a-f]{64}$/;
const stamp = z.strictObject({ by: z.string().min(1).max(256), at: z.iso.datetime({ offset: true }) });

/** One pinned definition: its hash, the definition itself (to review and to diff against), who pinned or approved it. */
const entrySchema = z.strictObject({
  sha256: z.string().regex(HASH, 'must be sha256:<64 hex digits>'),
  definition: z.record(z.string(), z.unknown()),
  /** What screening found when it was pinned (codes and paths): approving accepts them. */
  findings: z.array(z.string().max(512)).max(64).optional(),
  /** Set by `mcp-guard tools approve`: a person looked at this definition. */
  approved: stamp.optional(),
});
export type LockEntry = z.infer<typeof entrySchema>;

const names = (max: number) => z.record(z.string().min(1).max(2048), entrySchema).refine((map) => Object.keys(map).length <= max);
const sectionSchema = z.strictObject({
  /** How the section came to be: `trust-on-first-use` or `mcp-guard tools pin` (and who, when). */
  pinned: stamp,
  tools: names(2_000).default({}),
  prompts: names(2_000).default({}),
  resourceTemplates: names(2_000).default({}),
});
export type LockSection = z.infer<typeof sectionSchema>;

const lockSchema = z.strictObject({
  lockfileVersion: z.literal(1),
  upstreams: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/), sectionSchema),
});
/** The lock: per upstream, per kind, per name, the pinned definition. */
export type ToolLock = z.infer<typeof lockSchema>;

/** The lock as read: there is none yet, it is good, or it cannot be used (fail closed). */
export type LockState =
  | { state: 'missing' }
  | { state: 'ok'; lock: ToolLock; /** The file's SHA-256: what changed between reads. */ digest: string }
  | { state: 'unreadable'; reason: string };

/** Thrown when the lock cannot be written or changed; the message names no content. */
export class LockFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LockFileError';
  }
}

/** An empty lock. */
export function emptyLock(): ToolLock {
  return { lockfileVersion: 1, upstreams: {} };
}

/**
 * Parses a lock's text. Every entry's hash must be the hash of the
 * definition it holds: a hand-edited definition with a stale hash makes the
 * whole lock unusable (so a typo never approves something silently).
 */
export function parseLock(text: string): { ok: true; lock: ToolLock } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'the lock is not valid JSON' };
  }
  const parsed = lockSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, reason: `the lock does not match its format at ${issue.path.map(String).join('.') || '(root)'}: ${issue.message}` };
  }
  for (const [upstream, section] of Object.entries(parsed.data.upstreams)) {
    for (const list of ['tools', 'prompts', 'resourceTemplates'] as const) {
      for (const [name, entry] of Object.entries(section[list])) {
        let hash: string;
        try {
          hash = definitionHash(entry.definition as Definition);
        } catch (error) {
          if (error instanceof DefinitionTooLargeError)
            return { ok: false, reason: `upstreams.${upstream}.${list}: a definition is too large` };
          throw error;
        }
        if (hash !== entry.sha256)
          return { ok: false, reason: `upstreams.${upstream}.${list}.${name.slice(0, 128)}: sha256 is not the hash of its definition` };
      }
    }
  }
  return { ok: true, lock: parsed.data };
}

/**
 * Reads the lock at `path`: `missing` when there is no file, `unreadable`
 * (with a reason naming no content) when it cannot be read, is larger than
 * {@link MAX_LOCK_BYTES}, is writable by any user (anyone could approve a
 * tool), or does not parse.
 */
export function readLock(path: string): LockState {
  let text: string;
  try {
    const stats = statSync(path);
    if (!stats.isFile()) return { state: 'unreadable', reason: 'the lock is not a regular file' };
    if ((stats.mode & 0o002) !== 0) return { state: 'unreadable', reason: 'the lock is writable by every user: run chmod o-w on it' };
    if (stats.size > MAX_LOCK_BYTES) return { state: 'unreadable', reason: 'the lock is larger than 64 MiB' };
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return { state: 'unreadable', reason: 'the lock cannot be read' };
  }
  const parsed = parseLock(text);
  if (!parsed.ok) return { state: 'unreadable', reason: parsed.reason };
  return { state: 'ok', lock: parsed.lock, digest: digestOf(text) };
}

const digestOf = (text: string): string => definitionHash({ text });

/**
 * Writes the lock atomically: a new file in the same directory, flushed,
 * renamed over the old one, and the directory flushed, so readers (every
 * replica polls the file) see the old lock or the new one, never half of
 * one. Change a lock with {@link updateLock}, which holds the file's lock.
 */
export function writeLock(path: string, lock: ToolLock): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const temp = join(dir, `.tools-lock-${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', 0o644);
  try {
    try {
      writeSync(fd, stableStringify(lock));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    unlinkSync(temp);
    throw error;
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * Read-modify-write of the lock under an exclusive lock shared by every
 * process on the host and on network file systems (`<file>.lock`,
 * proper-lockfile): `mcp-guard tools pin` and `approve`, and each gateway
 * replica's trust on first use. `change` gets the lock as it is on disk once
 * held (an empty lock when there is none) and returns the new one, or
 * undefined to write nothing. A lock that exists but cannot be read is never
 * overwritten: that is for a person to repair.
 *
 * @example await updateLock(path, (lock) => approve(lock, 'files', 'tool', 'read_file', definition, who));
 */
export async function updateLock<T>(
  path: string,
  change: (lock: ToolLock, existed: boolean) => { lock?: ToolLock; result: T },
  options: { staleMs?: number; waitMs?: number } = {},
): Promise<T> {
  const { staleMs = 10_000, waitMs = 20_000 } = options;
  mkdirSync(dirname(path), { recursive: true });
  let compromised = false;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(path, {
      realpath: false,
      stale: staleMs,
      retries: { retries: Math.ceil(waitMs / 100), factor: 1.2, minTimeout: 5, maxTimeout: 100, randomize: true },
      onCompromised: () => {
        compromised = true;
      },
    });
  } catch {
    throw new LockFileError('The tool lock is being changed by another writer; try again');
  }
  try {
    const current = readLock(path);
    if (current.state === 'unreadable') throw new LockFileError(`The tool lock cannot be used: ${current.reason}`);
    const { lock, result } = change(current.state === 'ok' ? structuredClone(current.lock) : emptyLock(), current.state === 'ok');
    if (lock) {
      if (compromised) throw new LockFileError('The tool lock was taken over by another writer while changing it; nothing was written');
      writeLock(path, lock);
    }
    return result;
  } finally {
    await release().catch(() => undefined);
  }
}
