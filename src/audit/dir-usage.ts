import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Bytes in an audit directory, kept current cheaply between scans. */
export interface DirUsage {
  /** Bytes at the last scan plus what this writer wrote since. */
  bytes(): number;
  /** Counts bytes this writer appended. */
  add(bytes: number): void;
  /** Sums the sizes of the directory's files now (other streams, export cursors, checkpoints included). */
  scan(): number;
  /** Scans only when the last scan is older than `ms` (other writers and deletions are seen that late). */
  scanIfOlder(ms: number): number;
}

/** Tracks the size of `dir` (its files, not subdirectories), for the trail's byte budget. */
export function createDirUsage(dir: string, now: () => number): DirUsage {
  let bytes = 0;
  let scannedAt = Number.NEGATIVE_INFINITY;
  const scan = (): number => {
    let total = 0;
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      // a missing directory holds nothing; the writer reports its own failure to write
    }
    for (const name of names) {
      try {
        const stat = statSync(join(dir, name));
        if (stat.isFile()) total += stat.size;
      } catch {
        // removed between listing and stat
      }
    }
    bytes = total;
    scannedAt = now();
    return bytes;
  };
  return {
    bytes: () => bytes,
    add(written) {
      bytes += written;
    },
    scan,
    scanIfOlder: (ms) => (now() - scannedAt >= ms ? scan() : bytes),
  };
}
