import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ClientCredentialsProvider, StreamableHTTPClientTransport, type FetchLike, type Transport } from '@modelcontextprotocol/client';
import { DEFAULT_INHERITED_ENV_VARS, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { Logger } from '../logging/logger.js';
import { redact } from '../logging/redact.js';
import { resolveSecret, type HttpUpstreamSpec, type StdioUpstreamSpec, type TextReader } from './file.js';

/** Thrown into a response stream when an upstream's answer passes its size limit. */
export class UpstreamTooLargeError extends Error {
  constructor() {
    super('The upstream answer exceeds the size limit');
    this.name = 'UpstreamTooLargeError';
  }
}

/**
 * Counts the bytes of a response body and errors it past `maxBytes`: in all
 * for a JSON body, per event for an SSE stream (the count restarts at each
 * blank line), so a long-lived stream of small events is fine and one huge
 * event, or an endless one, is not.
 */
export function limitBody(body: ReadableStream<Uint8Array>, maxBytes: number, perEvent: boolean): ReadableStream<Uint8Array> {
  let count = 0;
  // The last bytes seen, to find an event boundary that straddles two chunks.
  let tail = '';
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (perEvent) {
          const text = tail + Buffer.from(chunk).toString('latin1');
          const boundary = Math.max(text.lastIndexOf('\n\n'), text.lastIndexOf('\r\n\r\n'));
          count = boundary >= 0 ? text.length - boundary - 2 : count + chunk.byteLength;
          tail = text.slice(-3);
        } else count += chunk.byteLength;
        if (count > maxBytes) controller.error(new UpstreamTooLargeError());
        else controller.enqueue(chunk);
      },
    }),
  );
}

/** The secrets an upstream's configuration resolves to, for the transport and for scrubbing answers. */
export interface UpstreamSecrets {
  /** Headers added to every request to the upstream's own URL. */
  headers: Record<string, string>;
  oauth?: { clientId: string; clientSecret: string; scope?: string; issuer: string };
  /** Every secret value, to scrub from anything relayed to clients and from logs. */
  values: string[];
}

/** Resolves an HTTP upstream's credential references (files, environment variables). */
export function resolveHttpSecrets(
  spec: HttpUpstreamSpec,
  env: Readonly<Record<string, string | undefined>>,
  readFile?: TextReader,
): UpstreamSecrets {
  const where = `upstreams.${spec.name}.auth`;
  const { auth } = spec;
  switch (auth.type) {
    case 'none':
      return { headers: {}, values: [] };
    case 'bearer': {
      const token = resolveSecret(auth.token, env, `${where}.token`, readFile);
      return { headers: { authorization: `Bearer ${token}` }, values: [token] };
    }
    case 'header': {
      const value = resolveSecret(auth.value, env, `${where}.value`, readFile);
      return { headers: { [auth.name.toLowerCase()]: value }, values: [value] };
    }
    case 'oauth-client-credentials': {
      const clientSecret = resolveSecret(auth.clientSecret, env, `${where}.clientSecret`, readFile);
      return {
        headers: {},
        oauth: { clientId: auth.clientId, clientSecret, issuer: auth.issuer, ...(auth.scope ? { scope: auth.scope } : {}) },
        values: [clientSecret],
      };
    }
  }
}

/**
 * The HTTP requests a forwarded call opened, aborted when the call ends: a
 * 2025 upstream's response stream is otherwise left open after a timeout or
 * a cancellation (the protocol only sends `notifications/cancelled`), and an
 * upstream that keeps it open would keep a socket of the gateway's forever.
 */
export const callRequests = new AsyncLocalStorage<Set<() => void>>();

/**
 * The fetch an HTTP upstream's transport uses: the configured credential
 * headers on requests to the upstream's own URL only, no redirect followed
 * (a redirect could carry a credential header elsewhere), and every answer
 * limited in size.
 */
export function createUpstreamFetch(url: URL, headers: Record<string, string>, maxBytes: number): FetchLike {
  const target = `${url.origin}${url.pathname}`;
  return async (input, init) => {
    const requestUrl = new URL(input instanceof URL ? input.href : String(input));
    const merged = new Headers(init?.headers);
    if (`${requestUrl.origin}${requestUrl.pathname}` === target)
      for (const [name, value] of Object.entries(headers)) merged.set(name, value);
    const owned = callRequests.getStore();
    let signal = init?.signal ?? undefined;
    if (owned) {
      // Not AbortSignal.any: the transport's own signal lives as long as the connection, and
      // each composite would leave a listener on it until collected.
      const controller = new AbortController();
      const parent = signal;
      const follow = () => controller.abort(parent?.reason);
      parent?.addEventListener('abort', follow, { once: true });
      owned.add(() => {
        parent?.removeEventListener('abort', follow);
        controller.abort();
      });
      signal = controller.signal;
    }
    const response = await fetch(requestUrl, { ...init, headers: merged, redirect: 'error', ...(signal ? { signal } : {}) });
    if (!response.body) return response;
    const sse = (response.headers.get('content-type') ?? '').includes('text/event-stream');
    // A body whose declared length fits needs no counting (undici stops at the declared length).
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (!sse && Number.isInteger(declared) && declared <= maxBytes) return response;
    return new Response(limitBody(response.body, maxBytes, sse), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

/** A streamable-HTTP client transport to an upstream, with its credentials and limits. */
export function createHttpTransport(spec: HttpUpstreamSpec, secrets: UpstreamSecrets): Transport {
  const url = new URL(spec.url);
  return new StreamableHTTPClientTransport(url, {
    fetch: createUpstreamFetch(url, secrets.headers, spec.maxResponseBytes),
    ...(secrets.oauth
      ? {
          authProvider: new ClientCredentialsProvider({
            clientId: secrets.oauth.clientId,
            clientSecret: secrets.oauth.clientSecret,
            expectedIssuer: secrets.oauth.issuer,
            clientName: 'mcp-guard gateway',
            ...(secrets.oauth.scope ? { scope: secrets.oauth.scope } : {}),
          }),
        }
      : {}),
  });
}

/** The environment of a stdio child: the inherited variables, then the file's (secrets resolved). */
export function childEnvironment(
  spec: StdioUpstreamSpec,
  env: Readonly<Record<string, string | undefined>>,
  readFile?: TextReader,
): { env: Record<string, string>; secrets: string[] } {
  const childEnv: Record<string, string> = {};
  const secrets: string[] = [];
  for (const name of spec.inheritEnv) {
    const value = env[name];
    if (value !== undefined) childEnv[name] = value;
  }
  for (const [name, value] of Object.entries(spec.env)) {
    if (typeof value === 'string') childEnv[name] = value;
    else {
      childEnv[name] = resolveSecret(value, env, `upstreams.${spec.name}.env.${name}`, readFile);
      secrets.push(childEnv[name]);
    }
  }
  return { env: childEnv, secrets };
}

/** The placeholder of `args`, `env` values and `cwd` replaced by a child's share token. */
export const SHARE_PLACEHOLDER = '{{share}}';

/**
 * The share token of a child: 16 hex digits derived from its share key
 * (`principal:<id>`, `tenant:<name>`, `shared`). Filesystem-safe and never
 * the principal's id itself, so a child's data path can be its own
 * (`"MEMORY_FILE_PATH": "/data/memory-{{share}}.json"`) without letting a
 * principal id reach a path or an argument.
 */
export function shareToken(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** A stdio upstream's spec and environment for one share key: the placeholder replaced everywhere. */
export function forShareKey(
  spec: StdioUpstreamSpec,
  env: Record<string, string>,
  key: string,
): { spec: StdioUpstreamSpec; env: Record<string, string> } {
  const token = shareToken(key);
  const put = (value: string) => value.split(SHARE_PLACEHOLDER).join(token);
  return {
    spec: { ...spec, args: spec.args.map(put), ...(spec.cwd ? { cwd: put(spec.cwd) } : {}) },
    env: Object.fromEntries(Object.entries(env).map(([name, value]) => [name, put(value)])),
  };
}

/** Bytes of a child's stderr kept for diagnosis (the last ones). */
const STDERR_KEPT = 4096;

/** A stdio transport: the command run directly (no shell) with exactly `env`. Its stderr is drained into `onStderr`. */
export function createStdioTransport(
  spec: StdioUpstreamSpec,
  env: Record<string, string>,
  logger: Logger | undefined,
): StdioClientTransport & { stderrTail(): string } {
  // The SDK adds a few variables of the gateway's own environment (SHELL, TERM, USER, ...) to any
  // env it is given; undefined values are not passed to the child, so it gets exactly `env`.
  const exact: Record<string, string | undefined> = Object.fromEntries(DEFAULT_INHERITED_ENV_VARS.map((name) => [name, undefined]));
  const transport = new StdioClientTransport({
    command: spec.command,
    args: spec.args,
    env: { ...exact, ...env } as Record<string, string>,
    ...(spec.cwd ? { cwd: spec.cwd } : {}),
    stderr: 'pipe',
    maxBufferSize: spec.maxResponseBytes,
  });
  let tail = '';
  (transport.stderr as Readable | null)?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-STDERR_KEPT);
  });
  return Object.assign(transport, {
    stderrTail: () => {
      const text = redact(tail);
      if (text) logger?.debug('upstream stderr', { upstream: spec.name, stderr: text.slice(-1024) });
      return text;
    },
  });
}
