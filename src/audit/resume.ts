import { closeSync, ftruncateSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { GENESIS, unsealRecord, type ChainHead } from './chain.js';
import { readCheckpoint } from './checkpoint.js';
import { AuditTrailError } from './errors.js';
import { firstLine, lastLine, streamFiles } from './files.js';

/** The `seq` of a stored line, if it is a chained record. */
export const seqOf = (line: string | undefined): number | undefined => {
  const sealed = line ? unsealRecord(line) : undefined;
  const seq = sealed ? (JSON.parse(sealed.body) as { seq?: unknown }).seq : undefined;
  return typeof seq === 'number' ? seq : undefined;
};

/** Where a stream's chain ends on disk, so a restarted writer continues it. */
export function resumeHead(dir: string, stream: string): { head: ChainHead; currentFirstSeq: number | undefined } {
  const files = streamFiles(dir, stream);
  const current = join(dir, `${stream}.jsonl`);
  for (let i = files.length - 1; i >= 0; i -= 1) {
    const file = files[i]!;
    const { line, completeBytes, size } = lastLine(file);
    // A torn last line (a crash in the middle of a write) was never acknowledged: drop it.
    if (completeBytes < size) {
      const fd = openSync(file, 'r+');
      try {
        ftruncateSync(fd, completeBytes);
      } finally {
        closeSync(fd);
      }
    }
    if (!line) continue;
    const sealed = unsealRecord(line);
    const seq = seqOf(line);
    if (!sealed || seq === undefined) throw new Error(`the audit trail ends with a record that is not chained: ${file}`);
    return { head: { seq, hash: sealed.hash }, currentFirstSeq: file === current ? seqOf(firstLine(file)) : undefined };
  }
  return { head: { seq: 0, hash: GENESIS }, currentFirstSeq: undefined };
}

/** Refuses to continue a chain that disagrees with its checkpoint: writing on would overwrite the evidence. */
export function checkAgainstCheckpoint(dir: string, stream: string, head: ChainHead, key: Buffer | undefined): void {
  const reading = readCheckpoint(dir, stream, key);
  if (reading.status === 'missing') return;
  const refuse = (why: string) =>
    new AuditTrailError(
      'audit_checkpoint',
      `the audit stream "${stream}" in ${dir} ${why}. Run "mcp-guard audit verify ${dir}"; to start anyway, move the directory aside and keep it as evidence.`,
    );
  if (reading.status === 'unreadable') throw refuse('has a checkpoint file that cannot be read');
  if (reading.status === 'unverifiable') throw refuse('is keyed (its checkpoint carries an HMAC) but no HMAC key is set');
  if (reading.status === 'bad_mac') throw refuse('has a checkpoint that does not match its MAC: altered, or made with another key');
  if (reading.status === 'unkeyed') throw refuse('has a checkpoint made without a key, and a key is set now (a keyed trail needs a new directory)');
  const { checkpoint } = reading;
  if (head.seq < checkpoint.seq) {
    throw refuse(`ends at seq ${head.seq}, but its checkpoint of ${checkpoint.time} recorded seq ${checkpoint.seq}: records were removed`);
  }
  if (head.seq === checkpoint.seq && head.hash !== checkpoint.hash) {
    throw refuse(`ends with a record at seq ${head.seq} that is not the one its checkpoint recorded: the chain was rebuilt`);
  }
}
