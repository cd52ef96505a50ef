import type { StateStore } from '../stores/types.js';

/**
 * A view of `store` whose keys all start with `prefix`: one upstream's rate
 * limits kept apart from another's (the same principal calling a tool of the
 * same name on two upstreams fills two buckets). Channels are not prefixed;
 * `shutdown` leaves the shared store open.
 */
export function prefixedStore(store: StateStore, prefix: string): StateStore {
  const key = (name: string) => `${prefix}${name}`;
  return {
    kind: store.kind,
    get: (name) => store.get(key(name)),
    set: (name, value, ttlMs) => store.set(key(name), value, ttlMs),
    setIfAbsent: (name, value, ttlMs) => store.setIfAbsent(key(name), value, ttlMs),
    setIfPresent: (name, value, ttlMs) => store.setIfPresent(key(name), value, ttlMs),
    delete: (name) => store.delete(key(name)),
    increment: (name, windowMs) => store.increment(key(name), windowMs),
    take: (name, spec) => store.take(key(name), spec),
    publish: (channel, message) => store.publish(channel, message),
    subscribe: (channel, handler) => store.subscribe(channel, handler),
    healthy: () => store.healthy(),
    ping: (deadlineMs) => store.ping(deadlineMs),
    shutdown: async () => undefined,
  };
}
