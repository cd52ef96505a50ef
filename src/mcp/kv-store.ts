/** Options of {@link createTenantKv}. */
export interface TenantKvOptions {
  /** Most keys one tenant may hold. Default 1000. */
  maxKeysPerTenant?: number;
  /** Largest value, in characters. Default 4096. */
  maxValueLength?: number;
}

/** A small key-value store whose data is partitioned by tenant: no call can name another tenant's keys. */
export interface TenantKv {
  get(tenant: string, key: string): string | undefined;
  /** False when the tenant is full. */
  set(tenant: string, key: string, value: string): boolean;
  delete(tenant: string, key: string): boolean;
  list(tenant: string, prefix?: string): string[];
}

/** Creates the in-memory, tenant-partitioned store behind the reference `kv_*` tools. */
export function createTenantKv(options: TenantKvOptions = {}): TenantKv {
  const maxKeys = options.maxKeysPerTenant ?? 1000;
  const maxValue = options.maxValueLength ?? 4096;
  const tenants = new Map<string, Map<string, string>>();
  const space = (tenant: string): Map<string, string> => {
    let map = tenants.get(tenant);
    if (!map) tenants.set(tenant, (map = new Map()));
    return map;
  };
  return {
    get: (tenant, key) => tenants.get(tenant)?.get(key),
    set(tenant, key, value) {
      const map = space(tenant);
      if (!map.has(key) && map.size >= maxKeys) return false;
      map.set(key, value.slice(0, maxValue));
      return true;
    },
    delete: (tenant, key) => tenants.get(tenant)?.delete(key) ?? false,
    list: (tenant, prefix = '') => [...(tenants.get(tenant)?.keys() ?? [])].filter((key) => key.startsWith(prefix)).sort(),
  };
}
