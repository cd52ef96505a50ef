/**
 * Bounded label values. Every label of mcp-guard's metrics takes its value from a fixed set or from
 * a set capped at a few dozen entries: a client that sends 30,000 distinct method or tool names
 * must not create 30,000 series (each a few kilobytes, kept for the life of the process).
 */

/** The value every label takes for anything outside its bounded set. */
export const OTHER_LABEL = 'other';

/** JSON-RPC methods of the MCP specification (2025-06-18 to 2026-07-28), the only method label values. */
const MCP_METHODS: ReadonlySet<string> = new Set([
  'server/discover',
  'subscriptions/listen',
  'notifications/subscriptions/acknowledged',
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/message',
  'notifications/resources/updated',
  'notifications/resources/list_changed',
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/roots/list_changed',
  'notifications/elicitation/complete',
  'notifications/tasks/status',
]);

/**
 * The label for a JSON-RPC method sent by a client: the method itself when the MCP specification
 * defines it, `none` when the message has no method (a response), `other` for anything else.
 *
 * @example metrics.authzDenials.inc({ method: methodLabel(message.method), tool, permission });
 */
export function methodLabel(method: unknown): string {
  if (typeof method !== 'string' || method === '') return 'none';
  return MCP_METHODS.has(method) ? method : OTHER_LABEL;
}

/** Turns a label value into a bounded one. */
export type LabelBound = (value: string) => string;

// Printable ASCII only, at most 64 characters: a label never carries control bytes or a whole body.
const clean = (value: string): string => value.replace(/[^\x20-\x7e]/g, '').slice(0, 64);

/** A label whose values are the given ones; anything else is `other`. */
export function oneOf(values: Iterable<string>): LabelBound {
  const allowed = new Set(values);
  return (value) => (allowed.has(value) ? value : OTHER_LABEL);
}

/**
 * A label whose first `limit` distinct values are kept as they are (cleaned) and every later one is
 * `other`: for values the code chooses (reasons, event types, route names), which are few, with a
 * ceiling in case a caller ever passes something a client chose.
 */
export function capped(limit: number): LabelBound {
  const seen = new Set<string>();
  return (value) => {
    // A value seen before is clean already: no regular expression on the hot path.
    if (seen.has(value)) return value;
    const label = clean(value);
    if (seen.has(label)) return label;
    if (seen.size >= limit) return OTHER_LABEL;
    seen.add(label);
    return label;
  };
}

/**
 * The label of a tool name: the name when the tool is declared, `''` when there is none, and
 * `undeclared` for any other name. Without a declared list, the first 100 names are kept.
 */
export function toolBound(declared: readonly string[] | undefined): LabelBound {
  if (!declared) return capped(100);
  const tools = new Set(declared);
  return (value) => (value === '' || tools.has(value) ? value : 'undeclared');
}

/**
 * Makes every label value a metric receives bounded, whatever its callers pass: each label goes
 * through its bound (or a fresh `capped(64)` when none is given). Applies to `inc`, `dec`, `set`,
 * `observe`, `startTimer`, `labels` and `remove`.
 */
export function boundLabels<M extends object>(metric: M, labelNames: readonly string[], bounds: Record<string, LabelBound> = {}): M {
  const policy = new Map<string, LabelBound>(labelNames.map((name) => [name, bounds[name] ?? capped(64)]));
  const none = capped(0);
  const bound = (name: string, value: unknown): string => (policy.get(name) ?? none)(typeof value === 'string' ? value : String(value));
  const normalise = (labels: Record<string, unknown>): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const name in labels) if (Object.hasOwn(labels, name)) out[name] = bound(name, labels[name]);
    return out;
  };
  const isLabels = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
  const target = metric as unknown as Record<string, unknown>;
  const wrap = (name: string, wrapper: (original: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown): void => {
    const original = target[name];
    if (typeof original === 'function') target[name] = wrapper((...args: unknown[]) => original.apply(metric, args));
  };
  for (const name of ['inc', 'dec', 'set', 'observe', 'remove']) {
    wrap(
      name,
      (original) =>
        (first, ...rest) =>
          original(isLabels(first) ? normalise(first) : first, ...rest),
    );
  }
  wrap('startTimer', (original) => (labels) => {
    const end = original(isLabels(labels) ? normalise(labels) : labels) as (more?: unknown) => number;
    return (more?: unknown) => end(isLabels(more) ? normalise(more) : more);
  });
  wrap('labels', (original) => (...args) => {
    if (args.length === 1 && isLabels(args[0])) return original(normalise(args[0]));
    return original(...args.map((value, index) => bound(labelNames[index] ?? '', value)));
  });
  return metric;
}
