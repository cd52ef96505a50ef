import { addressAllowed, compileCidrs } from '../core/cidr.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import type { BlockList } from 'node:net';
import { basename, dirname } from 'node:path';
import { keyStatus } from './key-lifecycle.js';
import { readKeyStoreFile, updateKeyStoreFile, type StoredKey } from './key-store-file.js';

/** A stored key ready for verification: its hash as bytes and its allowlist compiled. */
export interface LoadedKey {
  record: StoredKey;
  digest: Buffer;
  /** Undefined when the key may be used from anywhere. */
  allowed?: BlockList;
}

/** Why a key-store key was refused. Goes to the audit log and metrics, never to the client. */
export type ApiKeyFailure = 'unknown_key' | 'mismatch' | 'expired' | 'revoked' | 'ip_not_allowed';

/** Options of {@link openApiKeyStore}. */
export interface ApiKeyStoreOptions {
  /** Path of the key-store file (written by `mcp-guard keys`). */
  path: string;
  /** Reload when the file changes. Default `true`. */
  watch?: boolean;
  /** Called after each successful reload with the number of keys. */
  onReload?: (count: number) => void;
  /** Called after a reload with the ids of keys that were active before it and are not now (revoked, expired, removed). */
  onKeysEnded?: (ids: string[]) => void;
  /** Called when a reload fails; every key is refused until the file is valid again. */
  onError?: (error: unknown) => void;
  /** How often last-used times are written back to the file, in ms; 0 = never. Default 60,000. */
  usageFlushMs?: number;
  /** Called when last-used times could not be written back (the keys keep working). */
  onFlushError?: (error: unknown) => void;
}

/** The API keys a server accepts, loaded from the key-store file and kept current. */
export interface ApiKeyStore {
  lookup(id: string): LoadedKey | undefined;
  /** Re-reads the file (also on SIGHUP and file changes). Throws when it is unsafe or malformed. */
  reload(): void;
  /** Notes that a key was used; written back to the file in batches. */
  touch(id: string): void;
  size(): number;
  close(): Promise<void>;
}

function load(path: string): Map<string, LoadedKey> {
  const keys = new Map<string, LoadedKey>();
  for (const record of readKeyStoreFile(path).keys) {
    keys.set(record.id, {
      record,
      digest: Buffer.from(record.hash, 'hex'),
      ...(record.cidrs?.length ? { allowed: compileCidrs(record.cidrs) } : {}),
    });
  }
  return keys;
}

// Compared against when the id is unknown, so that both paths cost the same.
const DUMMY_DIGEST = Buffer.alloc(32);

/**
 * Checks a presented key against its stored record in constant time. The
 * hash is always computed and compared (against a dummy for unknown ids), and
 * the status checks come after, so timing does not tell which part failed.
 */
export function checkApiKey(
  candidate: string,
  loaded: LoadedKey | undefined,
  ip: string | undefined,
  now = Date.now(),
): { ok: true } | { ok: false; reason: ApiKeyFailure } {
  const probe = createHash('sha256').update(candidate, 'utf8').digest();
  const matches = timingSafeEqual(probe, loaded?.digest ?? DUMMY_DIGEST);
  if (!loaded) return { ok: false, reason: 'unknown_key' };
  if (!matches) return { ok: false, reason: 'mismatch' };
  const status = keyStatus(loaded.record, now);
  if (status !== 'active') return { ok: false, reason: status };
  if (loaded.allowed) {
    if (!addressAllowed(loaded.allowed, ip)) return { ok: false, reason: 'ip_not_allowed' };
  }
  return { ok: true };
}

/**
 * Opens the key-store file and keeps it current: it is re-read when it
 * changes (a watch on its directory, so atomic renames are seen) and on
 * `reload()`. Opening fails when the file is unsafe or malformed; a later
 * bad reload refuses every key until the file is fixed (fail closed).
 *
 * @example const keys = openApiKeyStore({ path: '/var/lib/mcp-guard/keys.json' });
 */
export function openApiKeyStore(options: ApiKeyStoreOptions): ApiKeyStore {
  const { path, onReload, onError } = options;
  let keys = load(path);
  const used = new Map<string, string>();

  const reload = (): void => {
    try {
      const before = keys;
      keys = load(path);
      onReload?.(keys.size);
      const now = Date.now();
      const ended = [...before.values()]
        .filter((old) => keyStatus(old.record, now) === 'active')
        .map((old) => old.record.id)
        .filter((id) => {
          const current = keys.get(id);
          return !current || keyStatus(current.record, now) !== 'active';
        });
      if (ended.length) options.onKeysEnded?.(ended);
    } catch (error) {
      keys = new Map();
      onError?.(error);
      throw error;
    }
  };

  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  if (options.watch ?? true) {
    const name = basename(path);
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file !== null && file !== name) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        try {
          reload();
        } catch {
          // Reported through onError; every key stays refused until the file is valid.
        }
      }, 25);
    });
    watcher.on('error', (error) => onError?.(error));
  }

  // Under the store's lock and on the file as it is now: a key revoked or created meanwhile by
  // `mcp-guard keys` is kept, only the last-used times change.
  const flush = async (): Promise<void> => {
    if (used.size === 0) return;
    const batch = new Map(used);
    used.clear();
    try {
      await updateKeyStoreFile(path, (data) => ({
        data: { ...data, keys: data.keys.map((key) => (batch.has(key.id) ? { ...key, lastUsedAt: batch.get(key.id)! } : key)) },
        result: undefined,
      }));
    } catch (error) {
      options.onFlushError?.(error);
    }
  };
  const flushMs = options.usageFlushMs ?? 60_000;
  const timer = flushMs > 0 ? setInterval(() => void flush(), flushMs) : undefined;
  timer?.unref();

  return {
    lookup: (id) => keys.get(id),
    reload,
    touch(id) {
      used.set(id, new Date().toISOString());
    },
    size: () => keys.size,
    async close() {
      clearTimeout(debounce);
      clearInterval(timer);
      watcher?.close();
      await flush();
    },
  };
}
