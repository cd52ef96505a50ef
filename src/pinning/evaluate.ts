import {
  DEFINITION_KINDS,
  DefinitionTooLargeError,
  definitionHash,
  keyOf,
  LIST_OF,
  type Definition,
  type DefinitionKind,
  type DefinitionSet,
} from './canonical.js';
import type { LockEntry, LockSection, LockState } from './lock.js';
import { DEFAULT_SCREENING, describeFinding, reveal, screenDefinition, type Finding, type ScreeningLimits } from './screen.js';

/**
 * What pinning does for an upstream: nothing (`off`), report drift in the
 * audit trail and metrics (`warn`), or also leave drifted, new and flagged
 * definitions out of the lists and refuse their use (`enforce`).
 */
export type PinMode = 'off' | 'warn' | 'enforce';

/**
 * How a listed definition compares with the lock:
 * - `allowed`: pinned with this exact hash, and screening found nothing or a person approved it;
 * - `drifted`: pinned, with another hash (its description, schema, annotations, ... changed);
 * - `new`: not in the lock;
 * - `flagged`: pinned with this hash, but screening finds hidden or over-long text nobody approved;
 * - `unverifiable`: the lock cannot be read, or the definition is too large to hash.
 */
export type PinStatus = 'allowed' | 'drifted' | 'new' | 'flagged' | 'unverifiable';

/** The judgement of one listed definition. */
export interface Verdict {
  kind: DefinitionKind;
  /** Its name (a resource template's URI template). */
  name: string;
  /** Its hash; undefined when it is too large to hash. */
  sha256: string | undefined;
  /** The definition as listed. */
  definition: Definition;
  status: PinStatus;
  /** What screening found in it. */
  findings: Finding[];
  /** The lock's entry of that name, if any. */
  locked?: LockEntry;
  /** True when the mode leaves it out of lists and refuses its use. */
  blocked: boolean;
}

/** What the lock has for one upstream: its section, nothing yet, or nothing usable. */
export type SectionState = { state: 'ok'; section: LockSection } | { state: 'absent' } | { state: 'unreadable' };

/** The section of `upstream` in a lock as read. */
export function sectionOf(lock: LockState, upstream: string): SectionState {
  if (lock.state === 'unreadable') return { state: 'unreadable' };
  const section = lock.state === 'ok' && Object.hasOwn(lock.lock.upstreams, upstream) ? lock.lock.upstreams[upstream] : undefined;
  return section ? { state: 'ok', section } : { state: 'absent' };
}

/** True when `status` blocks in `mode`: only `enforce` blocks, and only what is not `allowed`. */
export function blocks(mode: PinMode, status: PinStatus): boolean {
  return mode === 'enforce' && status !== 'allowed';
}

/** The lock entry of a kind and name in a section. */
export function entryOf(section: LockSection, kind: DefinitionKind, name: string): LockEntry | undefined {
  const map = section[LIST_OF[kind]];
  return Object.hasOwn(map, name) ? map[name] : undefined;
}

/**
 * Judges one definition against the upstream's section of the lock: a pure
 * function of the definition, the section, the mode and the screening
 * limits.
 *
 * @example judge('tool', tool, { state: 'ok', section }, 'enforce').blocked
 */
export function judge(
  kind: DefinitionKind,
  definition: Definition,
  section: SectionState,
  mode: PinMode,
  limits: ScreeningLimits = DEFAULT_SCREENING,
): Verdict {
  const name = keyOf(kind, definition);
  let sha256: string | undefined;
  try {
    sha256 = definitionHash(definition);
  } catch (error) {
    if (!(error instanceof DefinitionTooLargeError)) throw error;
    return { kind, name, sha256: undefined, definition, status: 'unverifiable', findings: [], blocked: blocks(mode, 'unverifiable') };
  }
  const findings = screenDefinition(definition, limits);
  const locked = section.state === 'ok' ? entryOf(section.section, kind, name) : undefined;
  let status: PinStatus;
  if (section.state === 'unreadable') status = 'unverifiable';
  else if (!locked) status = 'new';
  else if (locked.sha256 !== sha256) status = 'drifted';
  else status = findings.length > 0 && !locked.approved ? 'flagged' : 'allowed';
  return { kind, name, sha256, definition, status, findings, ...(locked ? { locked } : {}), blocked: blocks(mode, status) };
}

/** A lock entry whose definition the upstream no longer lists. */
export interface Removed {
  kind: DefinitionKind;
  name: string;
  sha256: string;
}

/** The judgement of everything an upstream lists. */
export interface Evaluation {
  upstream: string;
  mode: PinMode;
  verdicts: Verdict[];
  /** Pinned definitions the upstream no longer lists (nothing to block; `tools diff` shows them). */
  removed: Removed[];
  /** Definitions per status. */
  counts: Record<PinStatus, number>;
  blocked: number;
}

/**
 * Judges every definition an upstream lists, and finds what the lock holds
 * that the upstream no longer lists. A name listed twice is allowed only when
 * every definition listed under it is (an upstream cannot show the pinned
 * definition and run another under the same name).
 *
 * @example const evaluation = evaluate('files', lists, sectionOf(readLock(path), 'files'), 'enforce');
 */
export function evaluate(
  upstream: string,
  definitions: DefinitionSet,
  section: SectionState,
  mode: PinMode,
  limits: ScreeningLimits = DEFAULT_SCREENING,
): Evaluation {
  const verdicts: Verdict[] = [];
  const removed: Removed[] = [];
  for (const kind of DEFINITION_KINDS) {
    const listed = definitions[LIST_OF[kind]].map((definition) => judge(kind, definition, section, mode, limits));
    const denied = new Set(listed.filter((verdict) => verdict.status !== 'allowed').map((verdict) => verdict.name));
    for (const verdict of listed) {
      if (verdict.status === 'allowed' && denied.has(verdict.name)) {
        verdict.status = 'drifted';
        verdict.blocked = blocks(mode, 'drifted');
      }
      verdicts.push(verdict);
    }
    if (section.state !== 'ok') continue;
    const names = new Set(listed.map((verdict) => verdict.name));
    for (const [name, entry] of Object.entries(section.section[LIST_OF[kind]])) {
      if (!names.has(name)) removed.push({ kind, name, sha256: entry.sha256 });
    }
  }
  const counts: Record<PinStatus, number> = { allowed: 0, drifted: 0, new: 0, flagged: 0, unverifiable: 0 };
  for (const verdict of verdicts) counts[verdict.status] += 1;
  return { upstream, mode, verdicts, removed, counts, blocked: verdicts.filter((verdict) => verdict.blocked).length };
}

/** The lock section that pins `definitions` as they are (trust on first use, `tools pin`). */
export function sectionFor(
  definitions: DefinitionSet,
  pinnedBy: string,
  at: Date,
  limits: ScreeningLimits = DEFAULT_SCREENING,
): LockSection {
  const section: LockSection = { pinned: { by: pinnedBy, at: at.toISOString() }, tools: {}, prompts: {}, resourceTemplates: {} };
  for (const kind of DEFINITION_KINDS) {
    const listed = definitions[LIST_OF[kind]];
    const seen = new Map<string, number>();
    for (const definition of listed) seen.set(keyOf(kind, definition), (seen.get(keyOf(kind, definition)) ?? 0) + 1);
    for (const definition of listed) {
      const name = keyOf(kind, definition);
      // A name listed twice is pinned for neither: a person must look (`tools approve`).
      if (!name || seen.get(name) !== 1) continue;
      const entry = entryFor(definition, limits);
      if (entry) section[LIST_OF[kind]][name] = entry;
    }
  }
  return section;
}

/** The lock entry for a definition as it is (undefined when too large to pin), with its findings. */
export function entryFor(
  definition: Definition,
  limits: ScreeningLimits = DEFAULT_SCREENING,
  approved?: { by: string; at: Date },
): LockEntry | undefined {
  let sha256: string;
  try {
    sha256 = definitionHash(definition);
  } catch (error) {
    if (error instanceof DefinitionTooLargeError) return undefined;
    throw error;
  }
  const { _meta: _ignored, ...pinned } = definition;
  const findings = screenDefinition(definition, limits).map(describeFinding);
  return {
    sha256,
    definition: pinned,
    ...(findings.length ? { findings } : {}),
    ...(approved ? { approved: { by: approved.by, at: approved.at.toISOString() } } : {}),
  };
}

const BLOCKED_BECAUSE: Record<PinStatus, string> = {
  allowed: 'it is allowed',
  drifted: 'its definition changed since it was approved',
  new: 'it is not in the tool lock',
  flagged: 'its definition holds hidden or over-long text nobody approved',
  unverifiable: 'the tool lock cannot be read, or the definition is too large to check',
};

/**
 * The message a client gets for a blocked definition: what is blocked and
 * why, never the definition, the lock's path or a hash.
 *
 * @example blockedMessage(verdict) // 'Tool read_file is blocked: its definition changed since it was approved'
 */
export function blockedMessage(verdict: Pick<Verdict, 'kind' | 'name' | 'status'>): string {
  const what = verdict.kind === 'tool' ? 'Tool' : verdict.kind === 'prompt' ? 'Prompt' : 'Resource template';
  return `${what} ${reveal(verdict.name.slice(0, 128))} is blocked: ${BLOCKED_BECAUSE[verdict.status]} (an administrator approves it with mcp-guard tools approve)`;
}
