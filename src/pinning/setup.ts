import type { Registry } from 'prom-client';
import type { AuditLogger } from '../audit/types.js';
import { GatewayFileError, type GatewayFile, type UpstreamSpec } from '../gateway/file.js';
import type { Logger } from '../logging/logger.js';
import { createPinningMetrics } from '../metrics/pinning.js';
import type { PinMode } from './evaluate.js';
import { createPinGuard, type PinGuard, type PinPosture } from './guard.js';
import { createLockWatcher, type LockWatcher } from './lock-watcher.js';

/** Options of {@link createGatewayPinning}. */
export interface GatewayPinningOptions {
  file: GatewayFile;
  /** Development mode: the default mode is `warn` instead of `enforce`. */
  devMode: boolean;
  audit: AuditLogger;
  registry: Registry;
  logger?: Logger;
  /** How often each replica checks the lock for a change. Default 2000 ms. */
  pollMs?: number;
}

/** Pinning of every upstream of a gateway, on one lock file. */
export interface GatewayPinning {
  /** The guard of an upstream; undefined when its mode is `off`. */
  guardOf(upstream: string): PinGuard | undefined;
  /** Each pinned upstream's state, for the start-up posture. */
  posture(): PinPosture[];
  /** The upstreams whose mode is `off`. */
  unpinned(): string[];
  /** Reads the lock again now (SIGHUP). */
  reload(): void;
  close(): void;
}

/**
 * The mode of an upstream: what its `pinning.mode` says, else `enforce` in
 * production and `warn` in development mode; `off` when the gateway has no
 * lock path (a gateway file built in code rather than loaded from a file, a
 * quick start without `--lock`).
 */
export function pinModeOf(spec: UpstreamSpec, file: GatewayFile, devMode: boolean): PinMode {
  if (spec.pinning.mode) return spec.pinning.mode;
  if (file.lockPath === undefined) return 'off';
  return devMode ? 'warn' : 'enforce';
}

/**
 * Sets up pinning for a gateway: one watcher of the lock (every replica
 * polls the same file, so an approval reaches each), one guard per upstream
 * whose mode is not `off`, and the pinning metrics. Throws a
 * {@link GatewayFileError} when an upstream asks for pinning and there is no
 * lock path.
 */
export function createGatewayPinning(options: GatewayPinningOptions): GatewayPinning {
  const { file, devMode, audit, registry, logger } = options;
  const modes = new Map(file.upstreams.map((spec) => [spec.name, pinModeOf(spec, file, devMode)]));
  const pinned = file.upstreams.filter((spec) => modes.get(spec.name) !== 'off');
  if (pinned.length && file.lockPath === undefined) {
    throw new GatewayFileError(pinned.map((spec) => `upstreams.${spec.name}.pinning.mode: pinning needs a tool lock path (lockPath)`));
  }
  const lock: LockWatcher | undefined = pinned.length
    ? createLockWatcher({
        path: file.lockPath!,
        ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
        ...(logger ? { logger } : {}),
      })
    : undefined;
  const metrics = pinned.length
    ? createPinningMetrics(
        registry,
        pinned.map((spec) => spec.name),
      )
    : undefined;
  const guards = new Map<string, PinGuard>();
  for (const spec of pinned) {
    guards.set(
      spec.name,
      createPinGuard({
        upstream: spec.name,
        mode: modes.get(spec.name)!,
        lock: lock!,
        trustOnFirstUse: spec.pinning.trustOnFirstUse,
        screening: { maxDescriptionLength: spec.pinning.maxDescriptionLength },
        audit,
        ...(metrics ? { metrics } : {}),
        ...(logger ? { logger } : {}),
      }),
    );
  }
  return {
    guardOf: (upstream) => guards.get(upstream),
    posture: () => [...guards.values()].map((guard) => guard.posture()),
    unpinned: () => file.upstreams.filter((spec) => !guards.has(spec.name)).map((spec) => spec.name),
    reload: () => void lock?.reload(),
    close() {
      for (const guard of guards.values()) guard.close();
      lock?.close();
    },
  };
}
