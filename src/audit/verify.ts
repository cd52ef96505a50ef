import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { GENESIS, hashRecord, unsealRecord } from './chain.js';
import { CHECKPOINT_NAME, checkpointPath, readCheckpoint, type Checkpoint } from './checkpoint.js';
import { rotatedPattern, streamFiles, streamsIn } from './files.js';

/** Where and why a chain breaks. */
export interface ChainBreak {
  stream: string;
  file: string;
  /** 1-based line number in `file`; undefined for a problem of the stream as a whole (its checkpoint). */
  line: number | undefined;
  seq: number | undefined;
  reason:
    | 'unreadable'
    | 'edited'
    | 'deleted'
    | 'inserted_or_reordered'
    | 'wrong_key'
    | 'unkeyed'
    /** Records the checkpoint saw are gone from the end. */
    | 'truncated'
    /** The stream has no checkpoint: not written by mcp-guard (a fabricated stream), or by a version before checkpoints. */
    | 'no_checkpoint'
    /** The checkpoint cannot be read, or its MAC does not match (altered, copied from another stream, another key). */
    | 'checkpoint_invalid'
    /** The record at the checkpoint's seq is not the one it recorded: the chain was rebuilt from there. */
    | 'checkpoint_mismatch';
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
  /** The checkpoint the stream was held against; `authenticated` when its HMAC was checked with the key. */
  checkpoint: { seq: number; firstSeq: number; time: string; authenticated: boolean } | undefined;
  break: ChainBreak | undefined;
  /** What an intact result still does not prove, in sentences for the operator. */
  unproven: string[];
}

/** Whether any record of the files carries a valid hash under `key` (plain SHA-256 without one). */
function anyRecordMatches(files: string[], key: Buffer | undefined): boolean {
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const sealed = unsealRecord(line);
      if (sealed && hashRecord(sealed.body, key) === sealed.hash) return true;
    }
  }
  return false;
}

/**
 * Verifies every audit stream in `dir`: each record's hash (HMAC when `key`
 * is given), its link to the record before (`prev`), consecutive `seq`
 * numbers across rotated files, and the whole against the stream's checkpoint
 * (records missing at either end, a rebuilt chain, a stream no writer vouched
 * for). Stops at the first break of each stream; an intact stream lists what
 * it still cannot prove in `unproven`.
 */
export function verifyAuditDir(dir: string, key?: Buffer): StreamReport[] {
  return streamsIn(dir).map((stream) => verifyStream(dir, stream, key));
}

/**
 * Files in `dir` that belong to no stream and are none of the trail's own
 * (checkpoints, locks, export cursors): `verify` did not check them.
 */
export function strayAuditFiles(dir: string): string[] {
  const streams = streamsIn(dir);
  const known = (name: string) =>
    streams.some((stream) => name === `${stream}.jsonl` || rotatedPattern(stream).test(name)) ||
    CHECKPOINT_NAME.test(name) ||
    /^[A-Za-z0-9_]+\.(lock|checkpoint\.json\.tmp)$/.test(name) ||
    /^\.export-[A-Za-z0-9_]+-[a-z0-9_-]+\.json(\.tmp)?$/.test(name);
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => !known(entry.name))
    .map((entry) => entry.name)
    .sort();
}

function verifyStream(dir: string, stream: string, key: Buffer | undefined): StreamReport {
  // The checkpoint first: one written while this runs names only records already on disk.
  const reading = readCheckpoint(dir, stream, key);
  const checkpoint: Checkpoint | undefined = 'checkpoint' in reading ? reading.checkpoint : undefined;
  const files = streamFiles(dir, stream);
  const report: StreamReport = {
    stream,
    files: files.length,
    records: 0,
    firstSeq: undefined,
    lastSeq: undefined,
    lastHash: undefined,
    anchored: false,
    checkpoint: undefined,
    break: undefined,
    unproven: [],
  };
  let keyMatches: boolean | undefined;
  // The hash the checkpoint's record has in the trail: its own, or the first record's link to it
  // when retention removed everything up to it.
  let hashAtCheckpoint: string | undefined;
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
        // One record that does not match among others that do is an edit; none matching is the key.
        keyMatches ??= (!key && checkpoint !== undefined && !checkpoint.keyed) || anyRecordMatches(files, key);
        if (!keyMatches) {
          return fail(
            'wrong_key',
            key ? 'no record matches this key: it is not the key of this trail' : 'no record matches a plain hash: the trail is keyed (pass the key)',
            seq,
          );
        }
        return fail('edited', 'the hash does not match the record: it was edited', seq);
      }
      if (report.lastSeq === undefined) {
        if (seq === 1 && record.prev !== GENESIS) return fail('inserted_or_reordered', 'the first record does not start the chain', seq);
        report.firstSeq = seq;
        report.anchored = seq !== 1;
        if (seq === (checkpoint?.seq ?? 0) + 1) hashAtCheckpoint = record.prev;
      } else {
        if (seq > report.lastSeq + 1) return fail('deleted', `records ${report.lastSeq + 1}..${seq - 1} are missing`, seq);
        if (seq <= report.lastSeq) return fail('inserted_or_reordered', `sequence ${seq} follows ${report.lastSeq}`, seq);
        if (record.prev !== report.lastHash) return fail('inserted_or_reordered', 'the record does not link to the one before it', seq);
      }
      if (seq === checkpoint?.seq) hashAtCheckpoint = sealed.hash;
      report.records += 1;
      report.lastSeq = seq;
      report.lastHash = sealed.hash;
    }
  }
  return checkAgainst(report, reading, dir, files, hashAtCheckpoint, key);
}

/** Holds an intact chain against its checkpoint, and says what neither can prove. */
function checkAgainst(
  report: StreamReport,
  reading: ReturnType<typeof readCheckpoint>,
  dir: string,
  files: string[],
  hashAtCheckpoint: string | undefined,
  key: Buffer | undefined,
): StreamReport {
  const { stream } = report;
  const fail = (reason: ChainBreak['reason'], message: string, seq?: number, at?: { file: string; line: number }): StreamReport => {
    report.break = { stream, file: at?.file ?? basename(checkpointPath(dir, stream)), line: at?.line, seq, reason, message };
    return report;
  };
  switch (reading.status) {
    case 'missing':
      return fail('no_checkpoint', 'the stream has no checkpoint: mcp-guard writes one as soon as it opens a stream, so these files were made by something else');
    case 'unreadable':
      return fail('checkpoint_invalid', 'the checkpoint cannot be read');
    case 'bad_mac':
      return fail(
        'checkpoint_invalid',
        reading.checkpoint.stream !== stream
          ? `the checkpoint was made for the stream "${reading.checkpoint.stream}"`
          : 'the checkpoint does not match its MAC: it was altered, or made with another key',
      );
    case 'unkeyed':
      return fail('unkeyed', 'the checkpoint carries a plain digest where an HMAC was expected: written without the key');
    default:
      break;
  }
  const { checkpoint } = reading;
  report.checkpoint = { seq: checkpoint.seq, firstSeq: checkpoint.firstSeq, time: checkpoint.time, authenticated: reading.status === 'ok' && reading.authenticated };
  const last = report.lastSeq ?? 0;
  if (report.firstSeq !== undefined && report.firstSeq > checkpoint.firstSeq) {
    return fail(
      'deleted',
      `records ${checkpoint.firstSeq}..${report.firstSeq - 1} are missing at the start: the checkpoint of ${checkpoint.time} says the trail keeps seq ${checkpoint.firstSeq} onwards`,
      report.firstSeq,
      { file: basename(files[0]!), line: 1 },
    );
  }
  // Retention may have removed every file up to the checkpoint's record: then nothing is missing.
  const emptiedByRetention = report.records === 0 && checkpoint.seq < checkpoint.firstSeq;
  if (last < checkpoint.seq && !emptiedByRetention) {
    return fail(
      'truncated',
      `records ${last + 1}..${checkpoint.seq} are missing at the end: the checkpoint of ${checkpoint.time} recorded seq ${checkpoint.seq}`,
      checkpoint.seq,
    );
  }
  if (checkpoint.seq > 0 && !emptiedByRetention && hashAtCheckpoint !== checkpoint.hash) {
    return fail(
      'checkpoint_mismatch',
      `the record at seq ${checkpoint.seq} is not the one the checkpoint of ${checkpoint.time} recorded: the chain was rebuilt from there`,
      checkpoint.seq,
    );
  }
  if (reading.status === 'unverifiable') {
    report.unproven.push('the trail is keyed and no key was given: its records and checkpoint cannot be authenticated');
  } else if (!key) {
    report.unproven.push(
      'no key: the records and the checkpoint carry plain SHA-256 digests, which anyone able to write the directory can recompute after an edit (set MCP_AUDIT_HMAC_KEY, verify with it)',
    );
  }
  const after = last - checkpoint.seq;
  report.unproven.push(
    after > 0
      ? `${after} record(s) after the checkpoint of ${checkpoint.time} (seq ${checkpoint.seq + 1}..${last}) cannot be proven complete: records cut off at the end would go unnoticed`
      : `records written after the checkpoint of ${checkpoint.time} and cut off since would go unnoticed`,
  );
  return report;
}
