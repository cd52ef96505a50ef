import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Files of one audit stream in `dir`, oldest first: rotated segments, then the current file. */
export function streamFiles(dir: string, stream: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const rotated = names.filter((name) => rotatedPattern(stream).test(name)).sort();
  const current = `${stream}.jsonl`;
  return [...rotated, ...(names.includes(current) ? [current] : [])].map((name) => join(dir, name));
}

/** Rotated segment names: `<stream>-<first seq, 12 digits>-<UTC stamp>.jsonl`, sorting by sequence. */
export function rotatedPattern(stream: string): RegExp {
  return new RegExp(`^${stream.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d{12}-\\d{8}T\\d{6}Z\\.jsonl$`);
}

export function rotatedName(stream: string, firstSeq: number, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return `${stream}-${String(firstSeq).padStart(12, '0')}-${stamp}.jsonl`;
}

/** Names of the audit streams present in `dir` (`audit`, `cli`, ...): with files, or only a checkpoint left. */
export function streamsIn(dir: string): string[] {
  const streams = new Set<string>();
  for (const name of readdirSync(dir)) {
    const match = /^([A-Za-z0-9_]+)(?:(?:-\d{12}-\d{8}T\d{6}Z)?\.jsonl|\.checkpoint\.json)$/.exec(name);
    if (match) streams.add(match[1]!);
  }
  return [...streams].sort();
}

/**
 * The last complete line of a file and the byte length up to its end (a
 * torn line after it, from a crash mid-write, is not counted).
 */
export function lastLine(path: string): { line: string | undefined; completeBytes: number; size: number } {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return { line: undefined, completeBytes: 0, size: 0 };
  }
  if (size === 0) return { line: undefined, completeBytes: 0, size };
  const fd = openSync(path, 'r');
  try {
    let chunk = 64 * 1024;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buffer = Buffer.alloc(size - start);
      readSync(fd, buffer, 0, buffer.length, start);
      const text = buffer.toString('utf8');
      const end = text.lastIndexOf('\n');
      if (end === -1 && start > 0) {
        chunk *= 4;
        continue;
      }
      if (end === -1) return { line: undefined, completeBytes: 0, size };
      const begin = text.lastIndexOf('\n', end - 1);
      if (begin === -1 && start > 0) {
        chunk *= 4;
        continue;
      }
      return { line: text.slice(begin + 1, end), completeBytes: start + Buffer.byteLength(text.slice(0, end + 1)), size };
    }
  } finally {
    closeSync(fd);
  }
}

/** The first line of a file, if any. */
export function firstLine(path: string): string | undefined {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, read).toString('utf8');
    const end = text.indexOf('\n');
    return end === -1 ? undefined : text.slice(0, end);
  } finally {
    closeSync(fd);
  }
}
