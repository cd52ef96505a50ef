import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 digest of a secret: fixed length, so comparisons take constant time. */
export function digestOf(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * Compares a candidate with every known digest without stopping at the first
 * match, so the time taken reveals neither which entry matched nor how much of
 * the candidate was right. Returns the index of the match, or -1.
 */
export function findDigest(candidate: string, digests: readonly Buffer[]): number {
  const probe = digestOf(candidate);
  let found = -1;
  for (let index = 0; index < digests.length; index += 1) {
    if (timingSafeEqual(probe, digests[index]!) && found === -1) found = index;
  }
  return found;
}
