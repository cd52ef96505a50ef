/** Options of {@link createTenantKv}. */
export interface TenantKvOptions {
  /** Most keys one partition (a tenant, or a principal without one) may hold. Default 1000. */
  maxKeysPerTenant?: number;
  /** Largest value, in characters. Default 4096. */
  maxValueLength?: number;
}

/**
 * A small key-value store partitioned by caller (`tenant:<name>`, or
 * `principal:<id>` for a principal without a tenant): no call can name
 * another partition's keys.
 */
export interface TenantKv {
  get(partition: string, key: string): string | undefined;
  /** False when the partition is full. */
  set(partition: string, key: string, value: string): boolean;
  delete(partition: string, key: string): boolean;
  list(partition: string, prefix?: string): string[];
}

/** Creates the in-memory, partitioned store behind the reference `kv_*` tools. */
export function createTenantKv(options: TenantKvOptions = {}): TenantKv {
  const maxKeys = options.maxKeysPerTenant ?? 1000;
  const maxValue = options.maxValueLength ?? 4096;
  const parts = new Map<string, Map<string, string>>();
  const space = (partition: string): Map<string, string> => {
    let map = parts.get(partition);
    if (!map) parts.set(partition, (map = new Map()));
    return map;
  };
  return {
    get: (partition, key) => parts.get(partition)?.get(key),
    set(partition, key, value) {
      const map = space(partition);
      if (!map.has(key) && map.size >= maxKeys) return false;
      map.set(key, value.slice(0, maxValue));
      return true;
    },
    delete: (partition, key) => parts.get(partition)?.delete(key) ?? false,
    list: (partition, prefix = '') => [...(parts.get(partition)?.keys() ?? [])].filter((key) => key.startsWith(prefix)).sort(),
  };
}
