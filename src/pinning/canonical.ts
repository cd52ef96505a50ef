import { createHash } from 'node:crypto';

/** What the lock pins: tools, prompts and resource templates. */
export type DefinitionKind = 'tool' | 'prompt' | 'resourceTemplate';

/** Every kind, in the order the lock and reports list them. */
export const DEFINITION_KINDS: readonly DefinitionKind[] = ['tool', 'prompt', 'resourceTemplate'];

/** A definition as an upstream lists it: a JSON object (a `Tool`, `Prompt` or `ResourceTemplate`). */
export type Definition = Record<string, unknown>;

/** The definitions of one server, by kind, as listed. */
export interface DefinitionSet {
  tools: readonly Definition[];
  prompts: readonly Definition[];
  resourceTemplates: readonly Definition[];
}

/** The list of a kind inside a {@link DefinitionSet} and the lock. */
export const LIST_OF: Readonly<Record<DefinitionKind, keyof DefinitionSet>> = {
  tool: 'tools',
  prompt: 'prompts',
  resourceTemplate: 'resourceTemplates',
};

/** Deepest nesting canonicalised: deeper is no schema a person reviews. */
export const MAX_DEPTH = 64;
/** Largest canonical definition (characters): bounds the hashing and screening of one definition. */
export const MAX_CANONICAL_CHARS = 1024 * 1024;

/** A definition that cannot be canonicalised within {@link MAX_DEPTH} and {@link MAX_CANONICAL_CHARS}. */
export class DefinitionTooLargeError extends Error {
  constructor() {
    super('The definition is too large or too deeply nested to pin');
    this.name = 'DefinitionTooLargeError';
  }
}

/**
 * The name a definition is pinned under: a tool's or prompt's `name`, a
 * resource template's `uriTemplate` (what the policy names it by).
 */
export function keyOf(kind: DefinitionKind, definition: Definition): string {
  const key = kind === 'resourceTemplate' ? definition.uriTemplate : definition.name;
  return typeof key === 'string' ? key : '';
}

/**
 * What is pinned of a definition: every field the server sent but `_meta`
 * (protocol extensions and per-server bookkeeping, which some servers vary
 * between lists and which the model is not shown). So a field a later
 * revision of MCP adds is pinned without a change here.
 */
export function pinnedPart(definition: Definition): Definition {
  const { _meta: _ignored, ...rest } = definition;
  return rest;
}

/**
 * Canonical JSON (RFC 8785 in effect): object keys sorted by UTF-16 code
 * units, no whitespace, strings and numbers as `JSON.stringify` writes them,
 * `undefined` members left out as JSON leaves them out. Two definitions that
 * mean the same JSON give the same text whatever the key order the server
 * used. Throws {@link DefinitionTooLargeError} past the depth or size bound.
 *
 * @example canonicalJson({ b: 1, a: [true, 'x'] }) === '{"a":[true,"x"],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, '');
}

function serialize(value: unknown, indent: string): string {
  const parts: string[] = [];
  let size = 0;
  const push = (text: string): void => {
    size += text.length;
    if (size > MAX_CANONICAL_CHARS * (indent ? 4 : 1)) throw new DefinitionTooLargeError();
    parts.push(text);
  };
  const newline = (depth: number): string => (indent ? `\n${indent.repeat(depth)}` : '');
  const walk = (node: unknown, depth: number): void => {
    if (depth > MAX_DEPTH) throw new DefinitionTooLargeError();
    if (node === null || typeof node !== 'object') {
      // Numbers that JSON cannot hold (NaN, Infinity) become null, as JSON.stringify writes them.
      push(JSON.stringify(typeof node === 'number' && !Number.isFinite(node) ? null : node) ?? 'null');
      return;
    }
    if (Array.isArray(node)) {
      if (node.length === 0) return push('[]');
      push('[');
      node.forEach((item, index) => {
        push(`${index > 0 ? ',' : ''}${newline(depth + 1)}`);
        walk(item === undefined || typeof item === 'function' ? null : item, depth + 1);
      });
      push(`${newline(depth)}]`);
      return;
    }
    const keys = Object.keys(node)
      .filter((key) => {
        const item = (node as Record<string, unknown>)[key];
        return item !== undefined && typeof item !== 'function';
      })
      .sort();
    if (keys.length === 0) return push('{}');
    push('{');
    keys.forEach((key, index) => {
      push(`${index > 0 ? ',' : ''}${newline(depth + 1)}${JSON.stringify(key)}:${indent ? ' ' : ''}`);
      walk((node as Record<string, unknown>)[key], depth + 1);
    });
    push(`${newline(depth)}}`);
  };
  walk(value, 0);
  return parts.join('');
}

/**
 * The SHA-256 of a definition's pinned part in canonical JSON, as
 * `sha256:<hex>`: what the lock records and compares.
 *
 * @example const hash = definitionHash(tool); // 'sha256:9f2c…'
 */
export function definitionHash(definition: Definition): string {
  return `sha256:${createHash('sha256')
    .update(canonicalJson(pinnedPart(definition)), 'utf8')
    .digest('hex')}`;
}

/**
 * Pretty canonical JSON for the lock file: keys sorted, two-space
 * indentation, a final newline. The same data always gives the same bytes,
 * so a lock in version control changes only where a definition did.
 */
export function stableStringify(value: unknown): string {
  return `${serialize(value, '  ')}\n`;
}
