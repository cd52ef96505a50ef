import type { GuardConfig } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { createMemoryStore } from '../stores/memory.js';
import { createRedisStore } from '../stores/redis.js';
import { createResilientStore } from '../stores/resilient.js';
import type { StateStore } from '../stores/types.js';

/** The state stores of the reference server. */
export interface AppStores {
  /** Security state (session tokens, revocations, refresh tokens): memory, or Redis shared by every replica. */
  store: StateStore;
  /** Rate-limit counters: kept apart, and local while a shared store is unreachable. */
  counters: StateStore;
  shutdown(): Promise<void>;
}

/**
 * Opens the stores. Rate-limit counters live apart from security state, so a
 * flood of distinct clients can only evict counters, never a session token or
 * a revocation. On Redis they degrade to local counters while Redis is
 * unreachable; everything else fails closed.
 */
export async function openStores(config: GuardConfig, metrics: GuardMetrics, logger: Logger, given?: StateStore): Promise<AppStores> {
  const store =
    given ?? (config.redis.url ? await createRedisStore({ url: config.redis.url, prefix: config.redis.prefix }) : createMemoryStore());
  const localCounters = createMemoryStore({ maxEntries: config.rateLimit.maxKeys });
  if (store.kind === 'memory') {
    return {
      store,
      counters: localCounters,
      shutdown: async () => void (await Promise.allSettled([localCounters.shutdown(), store.shutdown()])),
    };
  }
  const counters = createResilientStore({
    primary: store,
    fallback: localCounters,
    onDegradedChange(degraded) {
      metrics.storeDegraded.set(degraded ? 1 : 0);
      if (degraded) {
        metrics.storeFallbacks.inc();
        logger.warn('shared store unreachable: rate limits count locally until it is back', { store: store.kind });
      } else {
        logger.info('shared store reachable again: rate limits are shared again', { store: store.kind });
      }
    },
  });
  return {
    store,
    counters,
    shutdown: async () => void (await Promise.allSettled([counters.shutdown(), store.shutdown()])),
  };
}
