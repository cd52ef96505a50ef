import type { Response } from 'express';
import type { DefinitionKind } from './canonical.js';

/** The list methods whose answers pinning filters, and the kind and result key of each. */
export const LIST_METHODS: Readonly<Record<string, { kind: DefinitionKind; key: string }>> = {
  'tools/list': { kind: 'tool', key: 'tools' },
  'prompts/list': { kind: 'prompt', key: 'prompts' },
  'resources/templates/list': { kind: 'resourceTemplate', key: 'resourceTemplates' },
};

/** Largest list answer filtered (bytes); a larger one is refused in `enforce` (it cannot be checked). */
export const MAX_LIST_BYTES = 8 * 1024 * 1024;

/** Keeps the items of a list result that may be shown. */
export type ItemFilter = (items: readonly unknown[]) => unknown[];

/** The list answers to rewrite: by JSON-RPC request id, the result key and the filter of its items. */
export type ListRequests = ReadonlyMap<unknown, { key: string; filter: ItemFilter }>;

const rewriteMessage = (message: unknown, wanted: ListRequests): unknown => {
  if (message === null || typeof message !== 'object') return message;
  const { id, result } = message as { id?: unknown; result?: Record<string, unknown> };
  const list = wanted.get(id);
  if (!list || result === null || typeof result !== 'object' || !Array.isArray(result[list.key])) return message;
  return { ...message, result: { ...result, [list.key]: list.filter(result[list.key] as unknown[]) } };
};

/**
 * The body of an answer with the items of its list results filtered: a JSON
 * body (one message or a batch), or an SSE stream whose events carry
 * JSON-RPC messages (the answers to the `wanted` request ids are rewritten,
 * other events are kept as they are). Undefined when the body cannot be read
 * as either.
 *
 * @example filterListBody(body, 'application/json', new Map([[1, { key: 'tools', filter: keep }]]))
 */
export function filterListBody(body: string, contentType: string, wanted: ListRequests): string | undefined {
  try {
    if (!contentType.includes('text/event-stream')) {
      const json: unknown = JSON.parse(body);
      return JSON.stringify(Array.isArray(json) ? json.map((message) => rewriteMessage(message, wanted)) : rewriteMessage(json, wanted));
    }
    const events = body.split(/\r?\n\r?\n/);
    return events
      .map((event) => {
        const lines = event.split(/\r?\n/);
        const data = lines.filter((line) => line.startsWith('data:')).map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
        if (data.length === 0) return event;
        const message = rewriteMessage(JSON.parse(data.join('\n')), wanted);
        return [...lines.filter((line) => !line.startsWith('data:')), `data: ${JSON.stringify(message)}`].join('\n');
      })
      .join('\n\n');
  } catch {
    return undefined;
  }
}

/**
 * Holds back what the next handler writes to `res` (status, headers and
 * body), and once it ends hands the body to `rewrite`, whose text is sent
 * instead with its own length. Bounded by {@link MAX_LIST_BYTES}: past it,
 * `rewrite` gets undefined. For the answers of list requests only, which are
 * short and end.
 */
export function captureResponse(res: Response, rewrite: (body: string | undefined, contentType: string) => string): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let head: { status: number; headers: unknown } | undefined;
  const original = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders };
  const take = (chunk: unknown, encoding?: unknown): void => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const buffer = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    size += buffer.length;
    if (size <= MAX_LIST_BYTES) chunks.push(buffer);
  };
  res.writeHead = function writeHead(status: number, ...rest: unknown[]) {
    const headers = rest.find((value) => value !== null && typeof value === 'object');
    head = { status, headers };
    return res;
  } as typeof res.writeHead;
  res.flushHeaders = () => undefined;
  res.write = function write(chunk: unknown, encoding?: unknown, callback?: unknown) {
    take(chunk, encoding);
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  } as typeof res.write;
  res.end = function end(chunk?: unknown, encoding?: unknown, callback?: unknown) {
    take(chunk, encoding);
    Object.assign(res, original);
    if (head) {
      res.statusCode = head.status;
      const headers = head.headers;
      if (Array.isArray(headers))
        for (let i = 0; i + 1 < headers.length; i += 2) res.setHeader(String(headers[i]), headers[i + 1] as string);
      else if (headers) for (const [name, value] of Object.entries(headers as Record<string, string>)) res.setHeader(name, value);
    }
    const contentType = String(res.getHeader('content-type') ?? '');
    const out = rewrite(size > MAX_LIST_BYTES ? undefined : Buffer.concat(chunks).toString('utf8'), contentType);
    res.removeHeader('content-length');
    res.removeHeader('transfer-encoding');
    res.setHeader('content-length', Buffer.byteLength(out));
    const done = [chunk, encoding, callback].find((value) => typeof value === 'function') as (() => void) | undefined;
    return res.end(out, done);
  } as typeof res.end;
}
