import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { z } from 'zod';

const iso = z.iso.datetime({ offset: true });

/** One stored API key. Holds the SHA-256 hash of the key, never the key. */
export const storedKeySchema = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  name: z.string().min(1).max(128),
  environment: z.enum(['live', 'test']),
  /** Hex SHA-256 of the whole key. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  role: z.string().min(1).max(64),
  /** Narrows the role: when set, the principal gets only these of the role's permissions. */
  permissions: z.array(z.string().min(1).max(128)).optional(),
  tenant: z.string().min(1).max(128).optional(),
  /** Client addresses the key may be used from (CIDR or address); absent means any. */
  cidrs: z.array(z.string().min(1).max(64)).optional(),
  createdAt: iso,
  expiresAt: iso.optional(),
  lastUsedAt: iso.optional(),
  revokedAt: iso.optional(),
  /** Id of the key that replaced this one (`keys rotate`). */
  rotatedTo: z.string().optional(),
});

export type StoredKey = z.infer<typeof storedKeySchema>;

export const keyStoreDataSchema = z.strictObject({ version: z.literal(1), keys: z.array(storedKeySchema) });
export type KeyStoreData = z.infer<typeof keyStoreDataSchema>;

/** Thrown when the key-store file is missing, unsafe or malformed. The message never quotes its content. */
export class KeyStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyStoreError';
  }
}

/**
 * Reads the key-store file. Refuses a file that group or others may read or
 * write (mode must be 0600 or stricter), a directory they may write, and a
 * file that does not parse.
 * A missing file reads as an empty store when `allowMissing` is set.
 */
export function readKeyStoreFile(path: string, allowMissing = false): KeyStoreData {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    if (allowMissing && (error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, keys: [] };
    throw new KeyStoreError('The API key store file cannot be read');
  }
  if ((mode & 0o077) !== 0) {
    throw new KeyStoreError(
      `The API key store file is accessible by other users (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`,
    );
  }
  // Whoever may write the directory may replace the file.
  if ((statSync(dirname(path)).mode & 0o022) !== 0) {
    throw new KeyStoreError('The directory of the API key store file is writable by other users; run chmod 700 on it');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new KeyStoreError('The API key store file is not valid JSON');
  }
  const parsed = keyStoreDataSchema.safeParse(raw);
  if (!parsed.success) throw new KeyStoreError('The API key store file does not match the expected format');
  return parsed.data;
}

/**
 * Writes the key-store file atomically: a new file with mode 0600 in the same
 * directory (created with mode 0700), flushed, renamed over the old one, and
 * the directory flushed so the rename survives a crash. Readers see the old or
 * the new store, never half of one. On its own this does not stop two writers
 * from undoing each other's changes: change the store with
 * {@link updateKeyStoreFile}, which holds the store's lock.
 */
export function writeKeyStoreFile(path: string, data: KeyStoreData): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.keys-${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(data, null, 2)}\n`);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(temp);
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** How long {@link updateKeyStoreFile} waits for another writer, and when a lock counts as abandoned. */
export interface KeyStoreLockOptions {
  /** A lock not refreshed for this long belongs to a crashed writer and is taken over. Default 10,000 ms. */
  staleMs?: number;
  /** Longest wait for the lock before giving up with a {@link KeyStoreError}. Default 20,000 ms. */
  waitMs?: number;
}

/**
 * Read-modify-write of the store file under an exclusive lock shared by every
 * process on the host (and on network file systems): the `mcp-guard keys`
 * commands and each server's last-used flush. `change` gets the data as it is
 * on disk once the lock is held and returns the new data; the write is atomic
 * ({@link writeKeyStoreFile}). Without the lock, two writers that read the same
 * version lose one change: a created key, or a revocation overwritten by a
 * stale copy. The lock is a directory `<file>.lock` (proper-lockfile), so a
 * writer that crashes leaves a lock that others take over after `staleMs`.
 *
 * @example const { record } = await updateKeyStoreFile(path, (data) => revokeKey(data, id));
 */
export async function updateKeyStoreFile<T>(
  path: string,
  change: (data: KeyStoreData) => { data: KeyStoreData; result: T },
  options: KeyStoreLockOptions = {},
): Promise<T> {
  const { staleMs = 10_000, waitMs = 20_000 } = options;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let compromised: Error | undefined;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(path, {
      realpath: false,
      stale: staleMs,
      // Retries with a short back-off; waitMs bounds the whole wait, past a stale lock's takeover.
      retries: { retries: Math.ceil(waitMs / 100), factor: 1.2, minTimeout: 5, maxTimeout: 100, randomize: true },
      onCompromised: (error) => {
        compromised = error;
      },
    });
  } catch {
    throw new KeyStoreError('The API key store is locked by another writer; try again');
  }
  try {
    const { data, result } = change(readKeyStoreFile(path, true));
    // Another writer took the lock over (this one stalled past staleMs): writing now could undo its change.
    if (compromised) throw new KeyStoreError('The API key store lock was lost while changing it; nothing was written');
    writeKeyStoreFile(path, data);
    return result;
  } finally {
    await release().catch(() => undefined);
  }
}
