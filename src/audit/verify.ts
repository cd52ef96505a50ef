import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { GENESIS, hashRecord, unsealRecord } from './chain.js';
import { streamFiles, streamsIn } from './files.js';

/** Where and why a chain breaks. */
export interface ChainBreak {
  stream: string;
  file: string;
  /** 1-based line number in `file`. */
  line: number;
  seq: number | undefined;
  reason: 'unreadable' | 'edited' | 'deleted' | 'inserted_or_reordered' | 'wrong_key' | 'unkeyed';
  message: string;
}

/** The result of verifying one stream. */
export interface StreamReport {
  stream: string;
  files: number;
  records: number;
  firstSeq: number | undefined;
  lastSeq: number | undefined;
  lastHash: string | undefined;
  /** True when the first remaining record does not start the chain (older files were deleted by retention). */
  anchored: boolean;
  break: ChainBreak | undefined;
}

/**
 * Verifies every audit stream in `dir`: each record's hash (HMAC when `key`
 * is given), its link to the record before (`prev`), and consecutive `seq`
 * numbers across rotated files. Stops at the first break of each stream. The
 * first remaining record may link to a hash no longer present (older files
 * removed by retention): verification starts there.
 */
export function verifyAuditDir(dir: string, key?: Buffer): StreamReport[] {
  return streamsIn(dir).map((stream) => verifyStream(dir, stream, key));
}

function verifyStream(dir: string, stream: string, key: Buffer | undefined): StreamReport {
  const files = streamFiles(dir, stream);
  const report: StreamReport = {
    stream,
    files: files.length,
    records: 0,
    firstSeq: undefined,
    lastSeq: undefined,
    lastHash: undefined,
    anchored: false,
    break: undefined,
  };
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (let index = 0; index < lines.length; index += 1) {
      const fail = (reason: ChainBreak['reason'], message: string, seq?: number): StreamReport => {
        report.break = { stream, file: basename(file), line: index + 1, seq, reason, message };
        return report;
      };
      const line = lines[index]!;
      const sealed = unsealRecord(line);
      let record: { seq?: unknown; prev?: unknown };
      try {
        record = JSON.parse(sealed?.body ?? line) as typeof record;
      } catch {
        return fail('unreadable', 'the line is not a JSON record');
      }
      const seq = typeof record.seq === 'number' ? record.seq : undefined;
      if (!sealed || seq === undefined || typeof record.prev !== 'string') return fail('edited', 'the record has no chain fields', seq);
      if (hashRecord(sealed.body, key) !== sealed.hash) {
        if (key && hashRecord(sealed.body, undefined) === sealed.hash) {
          return fail('unkeyed', 'the record carries a plain hash where an HMAC was expected: rebuilt without the key', seq);
        }
        if (!key) return fail('wrong_key', 'the hash does not match: the record was edited, or the trail is keyed (pass the key)', seq);
        return fail('edited', 'the hash does not match the record: it was edited', seq);
      }
      if (report.lastSeq === undefined) {
        if (seq === 1 && record.prev !== GENESIS) return fail('inserted_or_reordered', 'the first record does not start the chain', seq);
        report.firstSeq = seq;
        report.anchored = seq !== 1;
      } else {
        if (seq > report.lastSeq + 1) return fail('deleted', `records ${report.lastSeq + 1}..${seq - 1} are missing`, seq);
        if (seq <= report.lastSeq) return fail('inserted_or_reordered', `sequence ${seq} follows ${report.lastSeq}`, seq);
        if (record.prev !== report.lastHash) return fail('inserted_or_reordered', 'the record does not link to the one before it', seq);
      }
      report.records += 1;
      report.lastSeq = seq;
      report.lastHash = sealed.hash;
    }
  }
  return report;
}
