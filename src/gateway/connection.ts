import { AsyncLocalStorage } from 'node:async_hooks';
import {
  Client,
  type ClientCapabilities,
  type Implementation,
  type LoggingLevel,
  type Prompt,
  type Resource,
  type ResourceTemplateType,
  type ServerCapabilities,
  type Tool,
  type Transport,
} from '@modelcontextprotocol/client';
import type { Logger } from '../logging/logger.js';
import { callRequests } from './transports.js';
import { describeError } from '../logging/redact.js';

/** An upstream's lists as the gateway last read them. */
export interface UpstreamLists {
  tools: Tool[];
  prompts: Prompt[];
  resources: Resource[];
  resourceTemplates: ResourceTemplateType[];
}

/** Which list changed. */
export type ListKind = 'tools' | 'prompts' | 'resources';

/** A request an upstream sent the gateway during a call (sampling, elicitation, roots). */
export interface ServerRequest {
  method: string;
  params: Record<string, unknown>;
}

/**
 * The downstream side of one upstream call: where the upstream's requests and
 * notifications for that call go.
 */
export interface CallScope {
  /** Answers a request the upstream sent during the call; rejects to refuse it. */
  serverRequest(request: ServerRequest): Promise<Record<string, unknown>>;
  /** A log message the upstream sent during the call. */
  log(level: LoggingLevel, data: unknown, logger: string | undefined): void;
}

/** Options of one forwarded request. */
export interface ForwardOptions {
  signal?: AbortSignal;
  /** Hard limit of the whole request. */
  timeoutMs: number;
  /** Where server-to-client requests and log messages of this call go. */
  scope?: CallScope;
  onprogress?: (progress: { progress: number; total?: number; message?: string }) => void;
  /** `_meta` keys to send (2026-07-28 envelope keys override the client's own). */
  meta?: Record<string, unknown>;
  /** 2026-07-28: hand an `input_required` result back instead of fulfilling it. */
  allowInputRequired?: boolean;
}

/** A connected upstream: one SDK client, its era and its cached lists. */
export interface UpstreamConnection {
  readonly era: 'modern' | 'legacy';
  readonly capabilities: ServerCapabilities;
  readonly serverInfo: Implementation | undefined;
  readonly instructions: string | undefined;
  /** The lists as last read (refreshed on the upstream's list changes). */
  lists(): UpstreamLists;
  /** Called after a list was refreshed. Returns an unsubscribe function. */
  onListChanged(listener: (kind: ListKind) => void): () => void;
  /** Called for each `notifications/resources/updated` the upstream sends. */
  onResourceUpdated(listener: (uri: string) => void): () => void;
  /** Called once when the connection ends (closed, crashed, or the transport failed). */
  onClose(listener: () => void): () => void;
  isOpen(): boolean;
  /** Forwards one request to the upstream. Errors are the SDK's (`ProtocolError`, `SdkError`). */
  request(method: string, params: Record<string, unknown>, options: ForwardOptions): Promise<Record<string, unknown>>;
  /** Requests in flight on this connection. */
  inflight(): number;
  close(): Promise<void>;
}

/** Options of {@link connectUpstream}. */
export interface ConnectUpstreamOptions {
  name: string;
  transport: Transport;
  /** `auto` probes with `server/discover` and falls back to `initialize`; the others pin an era. */
  protocol: 'auto' | '2025' | '2026-07-28';
  /** Deadline of the handshake and the first list reads. */
  timeoutMs: number;
  /**
   * On a single-channel transport (stdio) serving one principal, a request
   * from the upstream that no call's async context claims goes to the only
   * call in flight, if there is exactly one. Never on HTTP, where every
   * call's requests arrive on that call's own stream.
   */
  attributeToSoleCall: boolean;
  logger?: Logger;
}

/** What the gateway tells an upstream it can do: whatever a downstream client can, bridged per call. */
const GATEWAY_CAPABILITIES: ClientCapabilities = { sampling: {}, elicitation: { form: {}, url: {} }, roots: {} };
const SERVER_REQUESTS = ['sampling/createMessage', 'elicitation/create', 'roots/list'] as const;
/** Items kept per list: an upstream cannot make the gateway hold an unbounded list. */
const MAX_LIST_ITEMS = 2_000;
/** Pages read per list (the SDK's own walk stops earlier on repeated pages). */
const MAX_LIST_PAGES = 20;

const PROTOCOL_MODE = {
  auto: { mode: 'auto' },
  '2026-07-28': { mode: { pin: '2026-07-28' } },
} as const;

/**
 * Connects an SDK client to an upstream over `transport` and reads its
 * lists. Requests the upstream sends during a call (sampling, elicitation,
 * roots) and its log messages are routed to that call's {@link CallScope}:
 * found by the async context of the call (every call runs in its own), or,
 * where the transport has one channel for everything, by being the only call
 * in flight. A request no call claims is refused (roots get an empty list).
 */
export async function connectUpstream(options: ConnectUpstreamOptions): Promise<UpstreamConnection> {
  const { name, transport, protocol, timeoutMs, attributeToSoleCall, logger } = options;
  const context = new AsyncLocalStorage<CallScope>();
  const calls = new Set<CallScope>();
  const listListeners = new Set<(kind: ListKind) => void>();
  const updateListeners = new Set<(uri: string) => void>();
  const closeListeners = new Set<() => void>();
  let open = true;
  let inflight = 0;
  let lists: UpstreamLists = { tools: [], prompts: [], resources: [], resourceTemplates: [] };
  const progress = new Map<string, NonNullable<ForwardOptions['onprogress']>>();
  let progressCounter = 0;

  const scopeOfCaller = (): CallScope | undefined => {
    const scope = context.getStore();
    if (scope) return scope;
    if (attributeToSoleCall && calls.size === 1) return calls.values().next().value;
    return undefined;
  };

  const refresh = async (kind: ListKind): Promise<void> => {
    try {
      // Read first, then merge into the lists as they are now: `{ ...lists, x: await read() }` would
      // spread the lists from before the await and undo a refresh of another kind that ended meanwhile.
      if (kind === 'tools') {
        const tools = await readTools();
        lists = { ...lists, tools };
      } else if (kind === 'prompts') {
        const prompts = await readPrompts();
        lists = { ...lists, prompts };
      } else {
        const resources = await readResources();
        const resourceTemplates = await readTemplates();
        lists = { ...lists, resources, resourceTemplates };
      }
    } catch (error) {
      logger?.warn('upstream list refresh failed', { upstream: name, list: kind, error: describeError(error) });
      return;
    }
    for (const listener of listListeners) listener(kind);
  };
  const onChanged = (kind: ListKind) => ({ autoRefresh: false, debounceMs: 50, onChanged: () => void refresh(kind) });

  const client = new Client(
    { name: 'mcp-guard-gateway', version: '0.1.0' },
    {
      capabilities: GATEWAY_CAPABILITIES,
      ...(protocol === '2025' ? {} : { versionNegotiation: { ...PROTOCOL_MODE[protocol], probe: { timeoutMs } } }),
      // Rounds of a 2026-07-28 upstream's input_required are the downstream client's to answer.
      inputRequired: { autoFulfill: false },
      listChanged: { tools: onChanged('tools'), prompts: onChanged('prompts'), resources: onChanged('resources') },
      listMaxPages: MAX_LIST_PAGES,
    },
  );
  for (const method of SERVER_REQUESTS) {
    client.setRequestHandler(method, async (request) => {
      const scope = scopeOfCaller();
      // Outside any call the gateway has no roots of its own to offer.
      if (!scope && method === 'roots/list') return { roots: [] };
      if (!scope) throw new Error(`${method} outside a call cannot be bridged`);
      return (await scope.serverRequest({ method, params: (request.params ?? {}) as Record<string, unknown> })) as never;
    });
  }
  client.setNotificationHandler('notifications/resources/updated', (notification) => {
    for (const listener of updateListeners) listener(notification.params.uri);
  });
  client.onclose = () => {
    if (!open) return;
    open = false;
    for (const listener of closeListeners) listener();
  };
  client.onerror = (error) => logger?.debug('upstream transport error', { upstream: name, error: describeError(error) });

  const capped = <T>(items: T[]): T[] => items.slice(0, MAX_LIST_ITEMS);
  const readTools = async () => (capabilities.tools ? capped((await client.listTools(undefined, listOptions)).tools) : []);
  const readPrompts = async () => (capabilities.prompts ? capped((await client.listPrompts(undefined, listOptions)).prompts) : []);
  const readResources = async () => (capabilities.resources ? capped((await client.listResources(undefined, listOptions)).resources) : []);
  const readTemplates = async () =>
    capabilities.resources ? capped((await client.listResourceTemplates(undefined, listOptions)).resourceTemplates) : [];
  const listOptions = { timeout: timeoutMs, cacheMode: 'refresh' as const };

  await client.connect(transport, { timeout: timeoutMs, ...(protocol === '2025' ? { prior: { kind: 'legacy' as const } } : {}) });
  // Progress and log messages are taken as they arrive, before the client's own (deferred)
  // dispatch: an upstream's last progress notification, sent right before its answer, would
  // otherwise be dropped once the answer ended the request.
  const dispatch = transport.onmessage;
  transport.onmessage = (message, extra) => {
    const { method, params } = message as { method?: unknown; params?: Record<string, unknown> };
    if (method === 'notifications/progress' && params) {
      const listener = progress.get(String(params.progressToken));
      if (listener) {
        const { progress: value, total, message: text } = params as { progress?: unknown; total?: unknown; message?: unknown };
        if (typeof value === 'number')
          listener({
            progress: value,
            ...(typeof total === 'number' ? { total } : {}),
            ...(typeof text === 'string' ? { message: text } : {}),
          });
        return;
      }
    }
    if (method === 'notifications/message' && params) {
      scopeOfCaller()?.log(params.level as LoggingLevel, params.data, typeof params.logger === 'string' ? params.logger : undefined);
      return;
    }
    dispatch?.(message, extra);
  };
  const capabilities: ServerCapabilities = client.getServerCapabilities() ?? {};
  try {
    lists = {
      tools: await readTools(),
      prompts: await readPrompts(),
      resources: await readResources(),
      resourceTemplates: await readTemplates(),
    };
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }

  return {
    era: client.getProtocolEra() === 'modern' ? 'modern' : 'legacy',
    capabilities,
    serverInfo: client.getServerVersion(),
    instructions: client.getInstructions(),
    lists: () => lists,
    onListChanged(listener) {
      listListeners.add(listener);
      return () => listListeners.delete(listener);
    },
    onResourceUpdated(listener) {
      updateListeners.add(listener);
      return () => updateListeners.delete(listener);
    },
    onClose(listener) {
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },
    isOpen: () => open,
    inflight: () => inflight,
    async request(method, params, forward) {
      const requestOptions = {
        timeout: forward.timeoutMs,
        maxTotalTimeout: forward.timeoutMs,
        ...(forward.signal ? { signal: forward.signal } : {}),
        ...(forward.allowInputRequired ? { allowInputRequired: true } : {}),
      };
      // The gateway's own progress token: the upstream never sees the client's.
      const progressToken = forward.onprogress ? `gw-${(progressCounter += 1)}` : undefined;
      if (progressToken) progress.set(progressToken, forward.onprogress!);
      const meta = { ...(params._meta as object | undefined), ...forward.meta, ...(progressToken ? { progressToken } : {}) };
      const withMeta = Object.keys(meta).length ? { ...params, _meta: meta } : params;
      const scope: CallScope | undefined = forward.scope;
      const opened = new Set<() => void>();
      inflight += 1;
      if (scope) calls.add(scope);
      try {
        const run = () =>
          method === 'tools/call'
            ? client.callTool(withMeta as never, requestOptions)
            : client.request({ method: method as never, params: withMeta }, requestOptions as never);
        const result = (await callRequests.run(opened, () => (scope ? context.run(scope, run) : run()))) as unknown;
        return result as Record<string, unknown>;
      } finally {
        for (const close of opened) close();
        inflight -= 1;
        if (scope) calls.delete(scope);
        if (progressToken) progress.delete(progressToken);
      }
    },
    async close() {
      if (!open) return;
      open = false;
      for (const listener of closeListeners) listener();
      await client.close().catch(() => undefined);
    },
  };
}
