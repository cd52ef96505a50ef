import { createHash, createHmac } from 'node:crypto';

/** `prev` of the first record of a trail. */
export const GENESIS = '0'.repeat(64);

/** The position a record takes in the chain: what the next record links to. */
export interface ChainHead {
  /** Sequence number of the last record (0 before the first). */
  seq: number;
  /** Hash of the last record (GENESIS before the first). */
  hash: string;
}

/**
 * The hash of a record: SHA-256 over its JSON text without the `hash` field
 * (which includes `prev`, linking it to the record before), or HMAC-SHA256
 * with `key` so that someone who can write the file but lacks the key cannot
 * rebuild the chain after editing it.
 */
export function hashRecord(body: string, key: Buffer | undefined): string {
  return (key ? createHmac('sha256', key) : createHash('sha256')).update(body, 'utf8').digest('hex');
}

/** Appends `hash` to a record body (`{...}` without it) and returns the JSON line. */
export function sealRecord(body: string, key: Buffer | undefined): { line: string; hash: string } {
  const hash = hashRecord(body, key);
  return { line: `${body.slice(0, -1)},"hash":"${hash}"}\n`, hash };
}

/** Splits a stored line into its body (as hashed) and its hash; undefined when it has no hash. */
export function unsealRecord(line: string): { body: string; hash: string } | undefined {
  const match = /,"hash":"([0-9a-f]{64})"\}$/.exec(line);
  if (!match) return undefined;
  return { body: `${line.slice(0, match.index)}}`, hash: match[1]! };
}
