import type { Definition } from './canonical.js';

/**
 * What screening reports:
 * - `tag_characters`: Unicode tag characters (U+E0000 to U+E007F), which no
 *   reader sees and many models read as text (the hidden text is decoded
 *   into the finding's `hidden`);
 * - `invisible_characters`: zero-width characters, word joiners, the byte
 *   order mark, invisible operators, fillers, soft hyphens and the
 *   supplementary variation selectors (U+E0100 to U+E01EF, which can carry
 *   bytes), and control characters other than tab, CR and LF;
 * - `bidi_controls`: bidirectional embeddings, overrides, isolates and marks,
 *   which make text read differently from what it holds;
 * - `long_description`: a description longer than the limit;
 * - `schema_text`: a schema's `default`, `examples`, `const` or `enum` text,
 *   or its `description` or `title`, longer than the limit: a place where
 *   instructions are hidden from the person reading the schema's shape.
 */
export type FindingCode = 'tag_characters' | 'invisible_characters' | 'bidi_controls' | 'long_description' | 'schema_text';

/** One thing screening found in a definition. */
export interface Finding {
  code: FindingCode;
  /** Where, as a JSON path (`description`, `inputSchema.properties.path.default`). */
  path: string;
  /** For tag characters: the text they spell, cut to 200 characters. */
  hidden?: string;
}

/** Limits of {@link screenDefinition}. */
export interface ScreeningLimits {
  /** Longest `description` (characters) not reported. Default 4096. */
  maxDescriptionLength: number;
  /** Longest schema `default`, `examples`, `const` or `enum` text not reported. Default 256. */
  maxSchemaValueLength: number;
  /** Longest schema `description` or `title` not reported. Default 1024. */
  maxSchemaDescriptionLength: number;
}

export const DEFAULT_SCREENING: Readonly<ScreeningLimits> = {
  maxDescriptionLength: 4096,
  maxSchemaValueLength: 256,
  maxSchemaDescriptionLength: 1024,
};

/** Most findings kept per definition: a definition full of hidden characters reports a bounded list. */
export const MAX_FINDINGS = 20;

/** A character class of code point ranges, built from numbers so that no invisible character sits in this source. */
const charClass = (ranges: ReadonlyArray<readonly [number, number]>): string =>
  `[${ranges.map(([from, to]) => `\\u{${from.toString(16)}}-\\u{${to.toString(16)}}`).join('')}]`;

const TAG_CLASS = charClass([[0xe0000, 0xe007f]]);
// Zero-width space and joiners, word joiner and invisible operators, BOM, Mongolian vowel separator,
// soft hyphen, Hangul fillers, supplementary variation selectors, and C0/C1 controls but tab, LF, CR.
const INVISIBLE_CLASS = charClass([
  [0x200b, 0x200d],
  [0x2060, 0x2064],
  [0xfeff, 0xfeff],
  [0x180e, 0x180e],
  [0xad, 0xad],
  [0x115f, 0x1160],
  [0x3164, 0x3164],
  [0xffa0, 0xffa0],
  [0xe0100, 0xe01ef],
  [0x0, 0x8],
  [0xb, 0xc],
  [0xe, 0x1f],
  [0x7f, 0x9f],
]);
// Embeddings and overrides, isolates, left-to-right and right-to-left marks, the Arabic letter mark.
const BIDI_CLASS = charClass([
  [0x202a, 0x202e],
  [0x2066, 0x2069],
  [0x200e, 0x200f],
  [0x61c, 0x61c],
]);
const TAGS = new RegExp(TAG_CLASS, 'u');
const TAG_RUN = new RegExp(`${TAG_CLASS}+`, 'gu');
const INVISIBLE = new RegExp(INVISIBLE_CLASS, 'u');
const BIDI = new RegExp(BIDI_CLASS, 'u');

/** Schema keywords whose values are text shown to, or filled in for, the model. */
const VALUE_KEYS = new Set(['default', 'examples', 'const', 'enum']);
const DESCRIPTION_KEYS = new Set(['description', 'title']);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);

/** The ASCII text a run of tag characters spells (U+E0020 to U+E007E mirror ASCII). */
function decodeTags(text: string): string {
  let out = '';
  for (const match of text.matchAll(TAG_RUN)) {
    for (const char of match[0]) {
      const code = char.codePointAt(0)! - 0xe0000;
      if (code >= 0x20 && code < 0x7f) out += String.fromCharCode(code);
    }
    out += ' ';
    if (out.length > 200) break;
  }
  return out.trim().slice(0, 200);
}

const HIDDEN_ANY = new RegExp(`${TAG_CLASS}|${INVISIBLE_CLASS}|${BIDI_CLASS}`, 'gu');

/**
 * Text with every character screening reports (tag, invisible, bidi) written
 * as `\u{XXXX}`: what `tools diff`, findings and logs show, so that hidden
 * text is seen, and never acted on by a terminal or a model reading the report.
 *
 * @example reveal('a\u200bb') === 'a\\u{200B}b'
 */
export function reveal(text: string): string {
  return text.replace(HIDDEN_ANY, (char) => `\\u{${char.codePointAt(0)!.toString(16).toUpperCase()}}`);
}

const pathOf = (parts: readonly string[]): string =>
  parts
    .map((part, index) =>
      /^[A-Za-z_$][\w$-]*$/.test(part)
        ? `${index ? '.' : ''}${part}`
        : /^\d+$/.test(part)
          ? `[${part}]`
          : `[${JSON.stringify(reveal(part))}]`,
    )
    .join('');

/**
 * Screens a definition for text a reviewer would not see: invisible and
 * bidirectional Unicode anywhere (names, keys and values), an over-long
 * description, and schema values or descriptions long enough to carry
 * instructions. The walk is bounded by the definition's size, which
 * {@link canonicalJson} bounds, and by {@link MAX_FINDINGS}.
 *
 * @example screenDefinition({ name: 'x', description: 'hi\u{E0041}' }) // [{ code: 'tag_characters', path: 'description', hidden: 'A' }]
 */
export function screenDefinition(definition: Definition, limits: ScreeningLimits = DEFAULT_SCREENING): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const add = (finding: Finding): void => {
    const key = `${finding.code}\0${finding.path}`;
    if (seen.has(key) || findings.length >= MAX_FINDINGS) return;
    seen.add(key);
    findings.push(finding);
  };
  const text = (value: string, path: readonly string[]): void => {
    const where = pathOf(path);
    if (TAGS.test(value)) add({ code: 'tag_characters', path: where, hidden: decodeTags(value) });
    if (INVISIBLE.test(value)) add({ code: 'invisible_characters', path: where });
    if (BIDI.test(value)) add({ code: 'bidi_controls', path: where });
  };
  // `inSchema`: below an input or output schema, where `default`, `examples`, ... are keywords;
  // `names`: a map of names to schemas (`properties`, `$defs`), whose keys are no keywords.
  const walk = (node: unknown, path: string[], inSchema: boolean, valueOf?: 'value' | 'description', names = false): void => {
    if (findings.length >= MAX_FINDINGS || path.length > 64) return;
    if (typeof node === 'string') {
      text(node, path);
      if (valueOf === 'value' && node.length > limits.maxSchemaValueLength) add({ code: 'schema_text', path: pathOf(path) });
      if (valueOf === 'description' && node.length > limits.maxSchemaDescriptionLength) add({ code: 'schema_text', path: pathOf(path) });
      return;
    }
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((item, index) => walk(item, [...path, String(index)], inSchema, valueOf));
      return;
    }
    for (const [key, value] of Object.entries(node)) {
      text(key, [...path, key]);
      if (valueOf !== undefined || names) {
        walk(value, [...path, key], inSchema && valueOf === undefined, valueOf);
        continue;
      }
      const schema = inSchema || (path.length === 0 && (key === 'inputSchema' || key === 'outputSchema'));
      const kind = schema && VALUE_KEYS.has(key) ? 'value' : schema && DESCRIPTION_KEYS.has(key) ? 'description' : undefined;
      walk(value, [...path, key], schema, inSchema ? kind : undefined, inSchema && SCHEMA_MAPS.has(key));
    }
  };
  const description = definition.description;
  if (typeof description === 'string' && description.length > limits.maxDescriptionLength)
    add({ code: 'long_description', path: 'description' });
  walk(definition, [], false);
  return findings;
}

/** A finding as one line of a report: `tag_characters at description (hidden text: "...")`. */
export function describeFinding(finding: Finding): string {
  return `${finding.code} at ${finding.path}${finding.hidden ? ` (hidden text: ${JSON.stringify(finding.hidden)})` : ''}`;
}
