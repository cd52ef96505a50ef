import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { hashRecord } from './chain.js';

/**
 * Where a stream's chain stood when its writer last vouched for it: the head
 * (`seq`, `hash`), the first record the trail keeps (`firstSeq`), when, and
 * whether the trail is keyed. `mac` is an HMAC-SHA256 with the trail's key
 * (plain SHA-256 without one) over the other fields and the stream name, so a
 * checkpoint cannot be forged, altered or copied to another stream without
 * the key.
 */
export interface Checkpoint {
  v: 1;
  stream: string;
  seq: number;
  hash: string;
  firstSeq: number;
  time: string;
  keyed: boolean;
  mac: string;
}

const checkpointSchema = z.strictObject({
  v: z.literal(1),
  stream: z.string(),
  seq: z.number().int().nonnegative(),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  firstSeq: z.number().int().positive(),
  time: z.string(),
  keyed: z.boolean(),
  mac: z.string().regex(/^[0-9a-f]{64}$/),
});

// Domain separation: a checkpoint's MAC can never be taken for a record's hash, or the reverse.
const DOMAIN = 'mcp-guard audit checkpoint v1\n';

function macOf(checkpoint: Omit<Checkpoint, 'mac'>, key: Buffer | undefined): string {
  const { v, stream, seq, hash, firstSeq, time, keyed } = checkpoint;
  return hashRecord(DOMAIN + JSON.stringify({ v, stream, seq, hash, firstSeq, time, keyed }), key);
}

/** The checkpoint file of a stream: `<stream>.checkpoint.json`. */
export function checkpointPath(dir: string, stream: string): string {
  return join(dir, `${stream}.checkpoint.json`);
}

/** Checkpoint file names, for telling them apart from stream files. */
export const CHECKPOINT_NAME = /^([A-Za-z0-9_]+)\.checkpoint\.json$/;

/**
 * Replaces the stream's checkpoint atomically (temporary file, fsync,
 * rename). The caller makes the records it names durable first, so a
 * checkpoint never claims records a power loss could take back.
 */
export function writeCheckpoint(
  dir: string,
  fields: { stream: string; seq: number; hash: string; firstSeq: number; time: string },
  key: Buffer | undefined,
): void {
  const body: Omit<Checkpoint, 'mac'> = { v: 1, ...fields, keyed: key !== undefined };
  const text = `${JSON.stringify({ ...body, mac: macOf(body, key) })}\n`;
  const path = checkpointPath(dir, fields.stream);
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/** What a stream's checkpoint file says, and how far it can be trusted. */
export type CheckpointReading =
  | { status: 'missing' }
  /** Not a checkpoint (damaged, or not written by mcp-guard). */
  | { status: 'unreadable' }
  /** Intact; `authenticated` when checked with the key it was made with. */
  | { status: 'ok'; checkpoint: Checkpoint; authenticated: boolean }
  /** Keyed, and no key was given: its fields can be compared but not trusted. */
  | { status: 'unverifiable'; checkpoint: Checkpoint }
  /** The MAC does not match: altered, copied from another stream, or made with another key. */
  | { status: 'bad_mac'; checkpoint: Checkpoint }
  /** A key was given but the checkpoint carries a plain digest: written by someone without the key. */
  | { status: 'unkeyed'; checkpoint: Checkpoint };

/** Reads and checks the checkpoint of `stream` in `dir` (with `key` when the trail is keyed). */
export function readCheckpoint(dir: string, stream: string, key: Buffer | undefined): CheckpointReading {
  let text: string;
  try {
    text = readFileSync(checkpointPath(dir, stream), 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? { status: 'missing' } : { status: 'unreadable' };
  }
  let parsed;
  try {
    parsed = checkpointSchema.safeParse(JSON.parse(text));
  } catch {
    return { status: 'unreadable' };
  }
  if (!parsed.success) return { status: 'unreadable' };
  const checkpoint: Checkpoint = parsed.data;
  if (checkpoint.stream !== stream) return { status: 'bad_mac', checkpoint };
  if (!key) {
    if (checkpoint.keyed) return { status: 'unverifiable', checkpoint };
    return macOf(checkpoint, undefined) === checkpoint.mac ? { status: 'ok', checkpoint, authenticated: false } : { status: 'bad_mac', checkpoint };
  }
  if (macOf(checkpoint, key) === checkpoint.mac && checkpoint.keyed) return { status: 'ok', checkpoint, authenticated: true };
  if (!checkpoint.keyed && macOf(checkpoint, undefined) === checkpoint.mac) return { status: 'unkeyed', checkpoint };
  return { status: 'bad_mac', checkpoint };
}
