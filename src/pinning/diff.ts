import { canonicalJson, type Definition } from './canonical.js';
import type { Evaluation, Verdict } from './evaluate.js';
import { describeFinding, reveal } from './screen.js';

/** Longest value shown in a diff line (characters, after hidden characters are revealed). */
const MAX_VALUE = 400;
/** Most lines shown for one definition. */
const MAX_LINES = 200;

/** A value as one line: JSON, hidden characters revealed, cut to {@link MAX_VALUE}. */
function show(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : canonicalJson(value);
  } catch {
    text = '(too large to show)';
  }
  text = reveal(text);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE)}… (${text.length} characters)` : text;
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);
const join = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : /^[A-Za-z_$][\w$-]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${show(key)}]`;

/** The leaves of a JSON value by path (`inputSchema.properties.path.pattern`); empty objects and arrays are leaves. */
function leaves(value: unknown, path = '', out = new Map<string, unknown>(), depth = 0): Map<string, unknown> {
  if (depth > 64 || out.size > 10_000) return out;
  if (Array.isArray(value) && value.length) value.forEach((item, index) => leaves(item, join(path, index), out, depth + 1));
  else if (isObject(value) && Object.keys(value).length) {
    for (const key of Object.keys(value).sort()) leaves(value[key], join(path, key), out, depth + 1);
  } else out.set(path, value);
  return out;
}

/** A multi-line text change as removed and added lines, the lines both share kept as context. */
function textDiff(before: string, after: string, indent: string): string[] {
  const a = reveal(before).split('\n');
  const b = reveal(after).split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start += 1;
  let end = 0;
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end += 1;
  return [
    ...a.slice(0, start).map((line) => `${indent}  ${line}`),
    ...a.slice(start, a.length - end).map((line) => `${indent}- ${line}`),
    ...b.slice(start, b.length - end).map((line) => `${indent}+ ${line}`),
    ...a.slice(a.length - end).map((line) => `${indent}  ${line}`),
  ];
}

/**
 * What changed between a pinned definition and the one listed now, one line
 * per change: text fields (descriptions) as removed and added lines, every
 * other field by its JSON path (`inputSchema.properties.path.pattern:
 * removed (was "^/data/")`). Hidden characters are shown as `\u{XXXX}`.
 */
export function definitionChanges(before: Definition, after: Definition, indent = '    '): string[] {
  const old = leaves(before);
  const now = leaves(after);
  const lines: string[] = [];
  for (const path of [...new Set([...old.keys(), ...now.keys()])].sort()) {
    const was = old.get(path);
    const is = now.get(path);
    if (!now.has(path)) lines.push(`${indent}${path}: removed (was ${show(was)})`);
    else if (!old.has(path)) lines.push(`${indent}${path}: added ${show(is)}`);
    else if (canonicalJson(was) === canonicalJson(is)) continue;
    else if (
      typeof was === 'string' &&
      typeof is === 'string' &&
      (was.includes('\n') || is.includes('\n') || was.length + is.length > 120)
    ) {
      lines.push(`${indent}${path}:`, ...textDiff(was, is, `${indent}  `));
    } else lines.push(`${indent}${path}: ${show(was)} -> ${show(is)}`);
  }
  return lines;
}

const LABEL = { tool: 'tool', prompt: 'prompt', resourceTemplate: 'resource template' } as const;

/** The report of one verdict that is not `allowed`. */
function verdictLines(verdict: Verdict): string[] {
  const definition = verdict.definition;
  const name = reveal(verdict.name);
  const lines: string[] = [];
  switch (verdict.status) {
    case 'drifted':
      lines.push(`  ~ ${LABEL[verdict.kind]} ${name}: changed since it was pinned${verdict.blocked ? ' (blocked)' : ''}`);
      if (verdict.locked) lines.push(...definitionChanges(verdict.locked.definition, definition));
      lines.push(`    sha256: ${verdict.locked?.sha256} -> ${verdict.sha256}`);
      break;
    case 'new':
      lines.push(`  + ${LABEL[verdict.kind]} ${name}: not in the lock${verdict.blocked ? ' (blocked)' : ''}`);
      lines.push(...definitionChanges({}, definition));
      break;
    case 'flagged':
      lines.push(
        `  ! ${LABEL[verdict.kind]} ${name}: pinned, but holds text screening flags and nobody approved${verdict.blocked ? ' (blocked)' : ''}`,
      );
      break;
    case 'unverifiable':
      lines.push(`  ? ${LABEL[verdict.kind]} ${name}: cannot be checked (the lock is unusable, or the definition is too large)`);
      break;
    case 'allowed':
      break;
  }
  for (const finding of verdict.findings) lines.push(`    screening: ${describeFinding(finding)}`);
  return lines.length > MAX_LINES ? [...lines.slice(0, MAX_LINES), `    … ${lines.length - MAX_LINES} more lines`] : lines;
}

/**
 * The readable report of an upstream's evaluation (`mcp-guard tools diff`):
 * each drifted, new, flagged or removed definition with what changed;
 * nothing for an upstream whose lists match the lock.
 *
 * @example io.stdout(formatEvaluation(evaluation).join('\n'));
 */
export function formatEvaluation(evaluation: Evaluation): string[] {
  const lines: string[] = [];
  for (const verdict of evaluation.verdicts) if (verdict.status !== 'allowed') lines.push(...verdictLines(verdict));
  for (const removed of evaluation.removed) {
    lines.push(`  - ${LABEL[removed.kind]} ${reveal(removed.name)}: pinned, no longer listed (approve it to drop it from the lock)`);
  }
  return lines;
}
