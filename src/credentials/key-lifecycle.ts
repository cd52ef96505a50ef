import { createHash } from 'node:crypto';
import { generateApiKey, type KeyEnvironment } from './api-key-format.js';
import type { KeyStoreData, StoredKey } from './key-store-file.js';

/** What a new key is for. */
export interface NewKeySpec {
  name: string;
  role: string;
  environment?: KeyEnvironment;
  permissions?: string[];
  tenant?: string;
  cidrs?: string[];
  /** Lifetime in ms; absent means the key does not expire. */
  ttlMs?: number;
}

/** Hex SHA-256 of an API key: what the store keeps instead of the key. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A stored key without its hash, for listing. */
export type KeySummary = Omit<StoredKey, 'hash'> & { status: 'active' | 'expired' | 'revoked' };

/** Adds a key; returns the new data and the key (to be shown once). */
export function addKey(
  data: KeyStoreData,
  spec: NewKeySpec,
  now = Date.now(),
): { data: KeyStoreData; result: { key: string; record: StoredKey } } {
  const generated = generateApiKey(spec.environment ?? 'live');
  const record: StoredKey = {
    id: generated.id,
    name: spec.name,
    environment: generated.environment,
    hash: hashApiKey(generated.key),
    role: spec.role,
    ...(spec.permissions?.length ? { permissions: spec.permissions } : {}),
    ...(spec.tenant ? { tenant: spec.tenant } : {}),
    ...(spec.cidrs?.length ? { cidrs: spec.cidrs } : {}),
    createdAt: new Date(now).toISOString(),
    ...(spec.ttlMs !== undefined ? { expiresAt: new Date(now + spec.ttlMs).toISOString() } : {}),
  };
  return { data: { ...data, keys: [...data.keys, record] }, result: { key: generated.key, record } };
}

function findKey(data: KeyStoreData, id: string): StoredKey {
  const record = data.keys.find((key) => key.id === id);
  if (!record) throw new Error(`No API key with id ${id}`);
  return record;
}

/** Marks a key revoked from `now` on. Revoking twice keeps the first time. */
export function revokeKey(data: KeyStoreData, id: string, now = Date.now()): { data: KeyStoreData; result: StoredKey } {
  const record = findKey(data, id);
  const revoked = { ...record, revokedAt: record.revokedAt ?? new Date(now).toISOString() };
  return { data: { ...data, keys: data.keys.map((key) => (key.id === id ? revoked : key)) }, result: revoked };
}

/**
 * Issues a key with the same name, role, permissions, tenant and CIDRs, and
 * lets the old one live for `overlapMs` more (never longer than it would have).
 */
export function rotateKey(
  data: KeyStoreData,
  id: string,
  overlapMs: number,
  now = Date.now(),
): { data: KeyStoreData; result: { key: string; record: StoredKey; old: StoredKey } } {
  const old = findKey(data, id);
  if (old.revokedAt) throw new Error(`API key ${id} is revoked and cannot be rotated`);
  const remaining = old.expiresAt ? Date.parse(old.expiresAt) - now : Number.POSITIVE_INFINITY;
  const added = addKey(
    data,
    {
      name: old.name,
      role: old.role,
      environment: old.environment,
      ...(old.permissions ? { permissions: old.permissions } : {}),
      ...(old.tenant ? { tenant: old.tenant } : {}),
      ...(old.cidrs ? { cidrs: old.cidrs } : {}),
      ...(Number.isFinite(remaining) ? { ttlMs: Math.max(0, remaining) } : {}),
    },
    now,
  );
  const retired: StoredKey = {
    ...old,
    expiresAt: new Date(now + Math.min(overlapMs, Math.max(0, remaining))).toISOString(),
    rotatedTo: added.result.record.id,
  };
  const keys = added.data.keys.map((key) => (key.id === id ? retired : key));
  return { data: { ...data, keys }, result: { ...added.result, old: retired } };
}

/** The state of a stored key at `now`. */
export function keyStatus(record: StoredKey, now = Date.now()): KeySummary['status'] {
  if (record.revokedAt) return 'revoked';
  if (record.expiresAt && Date.parse(record.expiresAt) <= now) return 'expired';
  return 'active';
}

/** Every key without its hash: safe to print. */
export function summarizeKeys(data: KeyStoreData, now = Date.now()): KeySummary[] {
  return data.keys.map(({ hash: _hash, ...rest }) => ({ ...rest, status: keyStatus({ hash: _hash, ...rest }, now) }));
}
