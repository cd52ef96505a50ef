import type { Principal } from '../core/principal.js';
import type { Logger } from '../logging/logger.js';
import { describeError } from '../logging/redact.js';
import type { UpstreamConnection } from './connection.js';
import { UpstreamError } from './errors.js';
import { killTree, processTree, treeResidentBytes } from './process-tree.js';

/** Who shares one upstream connection (one stdio child, one upstream session). */
export type ShareMode = 'principal' | 'tenant' | 'shared';

/** A connection the pool opened, and the process behind it when there is one. */
export interface PooledConnection {
  connection: UpstreamConnection;
  /** The child's pid (stdio): its memory is watched and its tree killed on close. */
  pid?: number;
}

/** Something the pool did, for metrics, audit and logs. */
export interface PoolEvent {
  kind: 'started' | 'start_failed' | 'crashed' | 'killed_memory' | 'stopped_idle' | 'evicted';
  key: string;
  /** Resident bytes when a child was killed for its memory. */
  rssBytes?: number;
}

/** Restarts after a crash: at most `maxRestarts` within `windowMs`, the n-th after `initialDelayMs * 2^(n-1)` (capped). */
export interface RestartPolicy {
  maxRestarts: number;
  windowMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/** Options of {@link createUpstreamPool}. */
export interface UpstreamPoolOptions {
  name: string;
  share: ShareMode;
  /** Most connections (children) open at once. */
  maxConnections: number;
  /** A connection without a request this long is closed (never the `shared` one). */
  idleTimeoutMs: number;
  restart: RestartPolicy;
  /** A child whose process tree's resident memory passes this is killed. Default: not watched. */
  maxMemoryBytes?: number;
  /** How often memory is read. Default 1000 ms. */
  memoryPollMs?: number;
  /** Opens a connection for a share key. */
  connect(key: string): Promise<PooledConnection>;
  onEvent?(event: PoolEvent): void;
  logger?: Logger;
}

/** The state of an upstream, as `/ready` reports it. */
export interface PoolStatus {
  status: 'ok' | 'degraded';
  detail: string;
  connections: number;
}

/** Upstream connections keyed by who may share them, bounded, restarted with backoff. */
export interface UpstreamPool {
  /** The share key of a principal: `shared`, `tenant:<name>` or `principal:<id>`. */
  keyOf(principal: Principal | undefined): string;
  /**
   * The principal's connection, opened (or restarted, after its backoff) when needed; `variant`
   * keeps connections of one share key apart (the protocol era). Throws {@link UpstreamError}.
   */
  acquire(principal: Principal | undefined, variant?: string): Promise<UpstreamConnection>;
  /** Any open connection (for the upstream's capabilities), or undefined. */
  any(): UpstreamConnection | undefined;
  status(): PoolStatus;
  size(): number;
  /** Opens the connection of `key` now (start-up check) and returns it. */
  warm(key: string): Promise<UpstreamConnection>;
  /** Closes the connection of `key` (a start-up probe). */
  drop(key: string): Promise<void>;
  close(): Promise<void>;
}

interface Entry {
  key: string;
  pending?: Promise<UpstreamConnection>;
  pooled?: PooledConnection;
  lastUsed: number;
  /** Times of recent failures (crash or failed start), for the restart budget. */
  failures: number[];
  lastError?: string;
}

/**
 * A pool of upstream connections. `principal` gives each principal its own
 * (a stdio server written for one user keeps one user's state), `tenant` one
 * per tenant, `shared` one for everyone. At most `maxConnections` are open:
 * a new one closes the idlest connection with nothing in flight, or is
 * refused (`UpstreamBusy`) when every one is busy. A connection that ends on
 * its own (a crashed child, a dropped upstream) is reopened on its next use,
 * after a delay that doubles with each failure; after `maxRestarts` failures
 * within the window it is refused (`UpstreamUnavailable`) until the window passes.
 */
export function createUpstreamPool(options: UpstreamPoolOptions): UpstreamPool {
  const { name, share, maxConnections, idleTimeoutMs, restart, maxMemoryBytes, connect, onEvent, logger } = options;
  const entries = new Map<string, Entry>();
  let closed = false;
  let lastOutcome: { ok: boolean; detail: string } = { ok: true, detail: 'not connected yet' };

  const keyOf = (principal: Principal | undefined): string => {
    if (share === 'shared') return 'shared';
    if (share === 'tenant' && principal?.tenant !== undefined) return `tenant:${principal.tenant}`;
    // A principal without a tenant never shares a tenant's child.
    return `principal:${principal?.id ?? 'anonymous'}`;
  };

  const recentFailures = (entry: Entry, now: number): number[] => {
    entry.failures = entry.failures.filter((time) => now - time < restart.windowMs);
    return entry.failures;
  };

  const closeEntry = async (entry: Entry, reason: PoolEvent['kind'] | undefined): Promise<void> => {
    entries.delete(entry.key);
    const pooled = entry.pooled;
    entry.pooled = undefined;
    if (!pooled) return;
    if (reason) onEvent?.({ kind: reason, key: entry.key });
    const tree = pooled.pid !== undefined ? processTree(pooled.pid) : [];
    await pooled.connection.close();
    // Anything the child started (a launcher's grandchild) dies with it.
    for (const pid of tree.reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };

  const makeRoom = async (): Promise<void> => {
    let open = 0;
    for (const entry of entries.values()) if (entry.pooled || entry.pending) open += 1;
    if (open < maxConnections) return;
    let victim: Entry | undefined;
    for (const entry of entries.values()) {
      if (!entry.pooled || entry.pooled.connection.inflight() > 0) continue;
      if (!victim || entry.lastUsed < victim.lastUsed) victim = entry;
    }
    if (!victim) throw new UpstreamError('UpstreamBusy', 'Every connection to this upstream is busy; retry later');
    await closeEntry(victim, 'evicted');
  };

  const open = async (entry: Entry): Promise<UpstreamConnection> => {
    const now = Date.now();
    const failures = recentFailures(entry, now);
    if (failures.length > restart.maxRestarts) {
      throw new UpstreamError('UpstreamUnavailable', 'The upstream keeps failing; it is not restarted for now');
    }
    if (failures.length > 0) {
      const delay = Math.min(restart.maxDelayMs, restart.initialDelayMs * 2 ** (failures.length - 1));
      const wait = failures[failures.length - 1]! + delay - now;
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
    }
    await makeRoom();
    let pooled: PooledConnection;
    try {
      pooled = await connect(entry.key);
    } catch (error) {
      entry.failures.push(Date.now());
      entry.lastError = describeError(error).message;
      lastOutcome = { ok: false, detail: 'the upstream could not be started or reached' };
      onEvent?.({ kind: 'start_failed', key: entry.key });
      logger?.warn('upstream connection failed', { upstream: name, key: entry.key, error: describeError(error) });
      throw new UpstreamError('UpstreamUnavailable', 'The upstream is not available');
    }
    if (closed) {
      await pooled.connection.close();
      throw new UpstreamError('UpstreamUnavailable', 'The gateway is stopping');
    }
    entry.pooled = pooled;
    lastOutcome = { ok: true, detail: `${pooled.connection.era === 'modern' ? '2026-07-28' : '2025'} era` };
    onEvent?.({ kind: 'started', key: entry.key });
    pooled.connection.onClose(() => {
      if (entry.pooled !== pooled) return; // closed by the pool
      entry.pooled = undefined;
      entry.failures.push(Date.now());
      lastOutcome = { ok: false, detail: 'the upstream connection ended' };
      onEvent?.({ kind: 'crashed', key: entry.key });
      logger?.warn('upstream connection ended', { upstream: name, key: entry.key });
    });
    return pooled.connection;
  };

  const acquire = async (principal: Principal | undefined, variant?: string): Promise<UpstreamConnection> => {
    if (closed) throw new UpstreamError('UpstreamUnavailable', 'The gateway is stopping');
    const key = variant ? `${keyOf(principal)}#${variant}` : keyOf(principal);
    let entry = entries.get(key);
    if (!entry) {
      entry = { key, lastUsed: Date.now(), failures: [] };
      entries.set(key, entry);
    }
    entry.lastUsed = Date.now();
    if (entry.pooled?.connection.isOpen()) return entry.pooled.connection;
    const current = entry;
    current.pending ??= open(current).finally(() => (current.pending = undefined));
    return current.pending;
  };

  const sweep = (): void => {
    const cutoff = Date.now() - idleTimeoutMs;
    for (const entry of entries.values()) {
      if (!entry.key.startsWith('shared') && entry.pooled && entry.pooled.connection.inflight() === 0 && entry.lastUsed < cutoff)
        void closeEntry(entry, 'stopped_idle');
      // Forget keys that hold nothing and have no failures left to remember.
      if (!entry.pooled && !entry.pending && recentFailures(entry, Date.now()).length === 0) entries.delete(entry.key);
    }
  };
  const sweeper = setInterval(sweep, Math.max(250, Math.min(30_000, idleTimeoutMs / 4)));
  sweeper.unref();

  const watchMemory = (): void => {
    if (maxMemoryBytes === undefined) return;
    for (const entry of entries.values()) {
      const pid = entry.pooled?.pid;
      if (pid === undefined) continue;
      const rss = treeResidentBytes(pid);
      if (rss <= maxMemoryBytes) continue;
      logger?.warn('upstream child over its memory limit: killed', { upstream: name, key: entry.key, rssBytes: rss });
      onEvent?.({ kind: 'killed_memory', key: entry.key, rssBytes: rss });
      // The connection's end is then seen as a crash: restarted on next use, with backoff.
      killTree(pid);
    }
  };
  const watcher = maxMemoryBytes === undefined ? undefined : setInterval(watchMemory, options.memoryPollMs ?? 1000);
  watcher?.unref();

  return {
    keyOf,
    acquire,
    any() {
      for (const entry of entries.values()) if (entry.pooled?.connection.isOpen()) return entry.pooled.connection;
      return undefined;
    },
    status() {
      let connections = 0;
      for (const entry of entries.values()) if (entry.pooled?.connection.isOpen()) connections += 1;
      return { status: lastOutcome.ok ? 'ok' : 'degraded', detail: lastOutcome.detail, connections };
    },
    size: () => [...entries.values()].filter((entry) => entry.pooled).length,
    async warm(key) {
      let entry = entries.get(key);
      if (!entry) {
        entry = { key, lastUsed: Date.now(), failures: [] };
        entries.set(key, entry);
      }
      const current = entry;
      current.pending ??= open(current).finally(() => (current.pending = undefined));
      return current.pending;
    },
    async drop(key) {
      const entry = entries.get(key);
      if (entry) await closeEntry(entry, undefined);
    },
    async close() {
      closed = true;
      clearInterval(sweeper);
      if (watcher) clearInterval(watcher);
      await Promise.allSettled([...entries.values()].map((entry) => closeEntry(entry, undefined)));
    },
  };
}
