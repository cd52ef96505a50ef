import { randomBytes } from 'node:crypto';
import {
  CLIENT_CAPABILITIES_META_KEY,
  createRequestStateCodec,
  LOG_LEVEL_META_KEY,
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  type AuthInfo,
  type ServerCapabilities,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import { principalOf, type Principal } from '../core/principal.js';
import type { Logger } from '../logging/logger.js';
import { describeError } from '../logging/redact.js';
import type { McpEra } from '../mcp/era.js';
import { requestStateBinding, type ServerFactory } from '../mcp/server.js';
import { digestArgs, type McpHooks } from '../mcp/toolset.js';
import { HeldCall, type HeldCalls, type Progress, type RoundSink } from './bridge.js';
import type { ServerRequest, UpstreamConnection } from './connection.js';
import { forwardingError, gatewayError } from './errors.js';
import type { CompiledPolicy } from './policy.js';
import { TOOL_BLOCKED_RPC } from '../errors/codes.js';
import type { DefinitionKind } from '../pinning/canonical.js';
import { blockedMessage } from '../pinning/evaluate.js';
import type { PinGuard } from '../pinning/guard.js';

/** Options of {@link createGatewayServerFactory}. */
export interface GatewayServerOptions {
  /** The upstream's name (its mount is `/mcp/<name>`). */
  upstream: string;
  /** The connection serving a principal's requests of one era (the pool's sharing, the upstream's eras). */
  acquire(principal: Principal | undefined, era: McpEra): Promise<UpstreamConnection>;
  policy: CompiledPolicy;
  /** Tool-definition pinning: blocked definitions are left out of lists and refused. Default none. */
  pin?: PinGuard;
  held: HeldCalls;
  /** Longest an upstream call may work (time spent waiting for the client's input excluded). */
  callTimeoutMs: number;
  /** Longest a 2026-07-28 client may take to answer one bridged input round. */
  inputTimeoutMs: number;
  /** Removes the upstream's secrets from anything relayed. */
  scrub: { text(value: string): string; value<T>(value: T): T };
  /** The upstream's capabilities as last seen (undefined: never reached yet). */
  capabilities(): ServerCapabilities | undefined;
  /** The upstream's instructions, name and version as last seen. */
  identity(): { name: string; version: string; instructions?: string };
  /** A 2025 session's server was created: for list-change and resource notifications. Returns its release. */
  onLegacyServer?(server: McpServer, principal: Principal | undefined): () => void;
  /** A 2025 session subscribed to (or unsubscribed from) a resource: the upstream subscription is kept while anyone needs it. */
  onSubscription?(server: McpServer, principal: Principal | undefined, uri: string, subscribed: boolean): Promise<void>;
  /** Every forwarded request, for metrics. */
  observe?(method: string, outcome: 'ok' | 'error' | 'input_required', seconds: number): void;
  hooks?: McpHooks;
  logger?: Logger;
  /** HMAC key sealing the state handed to clients between input rounds (every replica must share it). Default random. */
  requestStateKey?: string;
  requestStateTtlSeconds?: number;
}

/** What the gateway seals into a client's request state between input rounds. */
type GatewayState =
  /** A 2026-07-28 upstream's own state, passed back to it on the retry. */
  | { k: 'upstream'; u: string; m: string; n: string; s?: string }
  /** A call held in this process for a 2025 upstream; `r` numbers its rounds (each round's state differs). */
  | { k: 'held'; u: string; m: string; n: string; c: string; r: number };

/** Capabilities served when the upstream was never reached (its handlers answer once it is). */
const ASSUMED_CAPABILITIES: ServerCapabilities = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { listChanged: true, subscribe: true },
  completions: {},
};
const RESERVED_META = 'io.modelcontextprotocol/';
/** Largest `_meta` (as JSON) passed on to the upstream. */
const MAX_META = 8192;
const CACHEABLE = [
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'server/discover',
] as const;

/** Who owns a held call: the principal and its tenant. */
const ownerOf = (principal: Principal | undefined) => `${principal?.id ?? 'anonymous'}\0${principal?.tenant ?? ''}`;

/** The client's `_meta` keys that travel upstream: trace context and the client's own keys, never the protocol's envelope. */
function forwardableMeta(meta: unknown): Record<string, unknown> | undefined {
  if (meta === null || typeof meta !== 'object') return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    if (key.startsWith(RESERVED_META) || key === 'progressToken') continue;
    out[key] = value;
  }
  if (Object.keys(out).length === 0) return undefined;
  const json = JSON.stringify(out);
  return json !== undefined && json.length <= MAX_META ? out : undefined;
}

/** A forwarded result as the gateway serves it: the upstream's protocol fields and envelope keys left out. */
function cleanResult(result: Record<string, unknown>): Record<string, unknown> {
  const { resultType: _resultType, ttlMs: _ttl, cacheScope: _scope, _meta, ...rest } = result;
  if (_meta && typeof _meta === 'object') {
    const kept = Object.fromEntries(Object.entries(_meta).filter(([key]) => !key.startsWith(RESERVED_META)));
    if (Object.keys(kept).length) return { ...rest, _meta: kept };
  }
  return rest;
}

const isInputRequired = (result: Record<string, unknown>): boolean => result.resultType === 'input_required';

/** The capability a client needs to answer an upstream's request; false when it did not declare it. */
function clientCan(capabilities: Record<string, unknown> | undefined, request: ServerRequest): boolean {
  if (!capabilities) return false;
  if (request.method === 'sampling/createMessage') return capabilities.sampling !== undefined;
  if (request.method === 'roots/list') return capabilities.roots !== undefined;
  if (request.method === 'elicitation/create') {
    const elicitation = capabilities.elicitation as Record<string, unknown> | undefined;
    if (!elicitation) return false;
    // A bare `elicitation: {}` is form mode (the capability predates modes).
    return request.params.mode === 'url' ? elicitation.url !== undefined : true;
  }
  return false;
}

/**
 * A factory of MCP servers that forward to one upstream: what the client
 * sees is the upstream's tools, prompts and resources, in the upstream's own
 * names, filtered for the principal by the upstream's policy, read from the
 * lists the gateway keeps (never a `tools/list` to the upstream per client
 * request); calls, reads and prompts are forwarded to the principal's
 * connection (see the pool's sharing). The handlers sit on the low-level
 * server so that definitions reach the client exactly as the upstream wrote
 * them.
 *
 * Input rounds cross the eras: a 2026-07-28 upstream's `input_required` is
 * passed to the client with its state sealed by the gateway; a 2025
 * upstream's requests during a call are held and asked as `input_required`
 * rounds (answered by retry, or, for a 2025 client, by the SDK's shim over
 * its session). Progress and log messages of a call are forwarded.
 */
export function createGatewayServerFactory(options: GatewayServerOptions): ServerFactory {
  const { upstream, acquire, policy, pin, held, callTimeoutMs, inputTimeoutMs, scrub, hooks = {}, logger } = options;
  const jsonSchemaValidator = new AjvJsonSchemaValidator();
  const codec = createRequestStateCodec<GatewayState>({
    key: options.requestStateKey ?? randomBytes(32),
    ttlSeconds: options.requestStateTtlSeconds ?? 600,
    bind: requestStateBinding,
  });
  const cacheHints = Object.fromEntries(CACHEABLE.map((method) => [method, { ttlMs: 0, cacheScope: 'private' as const }]));
  // The SDK's time limit of a held call: its working budget plus every input round it may wait for.
  const heldCeilingMs = Math.min(callTimeoutMs + 8 * inputTimeoutMs, 24 * 3_600_000);

  return ({ authInfo, era }: { authInfo: AuthInfo | undefined; era: McpEra }) => {
    const principal = principalOf(authInfo);
    const granted = authInfo?.scopes ?? [];
    const known = options.capabilities() ?? ASSUMED_CAPABILITIES;
    const identity = options.identity();
    const server = new McpServer(
      { name: identity.name, version: identity.version },
      {
        jsonSchemaValidator,
        capabilities: { logging: {} },
        cacheHints,
        ...(identity.instructions ? { instructions: identity.instructions } : {}),
        requestState: { verify: (state, ctx) => codec.verify(state, ctx) },
      },
    );
    const low = server.server;
    const subscriptions = new Set<string>();
    low.registerCapabilities({
      ...(known.tools ? { tools: { listChanged: true } } : {}),
      ...(known.prompts ? { prompts: { listChanged: true } } : {}),
      ...(known.resources ? { resources: { listChanged: true, ...(era === 'legacy' ? { subscribe: true } : {}) } } : {}),
      ...(known.completions ? { completions: {} } : {}),
    });

    const connection = async (): Promise<UpstreamConnection> => {
      try {
        return await acquire(principal, era);
      } catch (error) {
        throw forwardingError(error, upstream, scrub.text);
      }
    };
    const clientCapabilities = (ctx: ServerContext): Record<string, unknown> | undefined =>
      era === 'modern'
        ? (ctx.mcpReq.envelope?.[CLIENT_CAPABILITIES_META_KEY as never] as Record<string, unknown> | undefined)
        : (low.getClientCapabilities() as Record<string, unknown> | undefined);

    /** The `_meta` of an upstream request: the client's own keys, and for a 2026-07-28 upstream the client's capabilities and log level. */
    const upstreamMeta = (conn: UpstreamConnection, ctx: ServerContext, params: Record<string, unknown>) => {
      const meta: Record<string, unknown> = { ...forwardableMeta(params._meta) };
      if (conn.era === 'modern') {
        const caps = clientCapabilities(ctx) ?? {};
        meta[CLIENT_CAPABILITIES_META_KEY] = {
          ...(caps.sampling !== undefined ? { sampling: caps.sampling } : {}),
          ...(caps.elicitation !== undefined ? { elicitation: caps.elicitation } : {}),
          ...(caps.roots !== undefined ? { roots: caps.roots } : {}),
        };
        const level = era === 'modern' ? ctx.mcpReq.envelope?.[LOG_LEVEL_META_KEY as never] : 'debug';
        if (typeof level === 'string') meta[LOG_LEVEL_META_KEY] = level;
      }
      return meta;
    };

    // A request's notifications (progress, log messages) go out in the upstream's order, and all of
    // them before its result: each waits for the one before, and the result waits for the last.
    const outboxes = new WeakMap<ServerContext, Promise<void>>();
    const send = (ctx: ServerContext, notify: () => Promise<void>): void => {
      const previous = outboxes.get(ctx) ?? Promise.resolve();
      outboxes.set(
        ctx,
        previous.then(notify).catch(() => undefined),
      );
    };
    const flush = async (ctx: ServerContext): Promise<void> => {
      await outboxes.get(ctx);
    };
    const progressOf = (ctx: ServerContext) => {
      const token = (ctx.mcpReq._meta as { progressToken?: unknown } | undefined)?.progressToken;
      if (typeof token !== 'string' && typeof token !== 'number') return undefined;
      return (progress: Progress) =>
        send(ctx, () => ctx.mcpReq.notify({ method: 'notifications/progress', params: { ...progress, progressToken: token } }));
    };
    /** The request `ctx` as the sink of a round: the upstream's logs and progress while the client waits on it. */
    const roundOf = (ctx: ServerContext): RoundSink => {
      const progress = progressOf(ctx);
      return {
        log: (level, data, source) => send(ctx, () => ctx.mcpReq.log(level, scrub.value(data), source)),
        ...(progress ? { progress } : {}),
      };
    };

    /** Answers the held call's round: its result, or the upstream's requests as an input_required round. */
    const drive = async (call: HeldCall, method: string, target: string, ctx: ServerContext): Promise<Record<string, unknown>> => {
      for (;;) {
        let step;
        try {
          step = await call.next(ctx.mcpReq.signal, roundOf(ctx));
        } catch (error) {
          // The client went away or the call failed: nothing is left running upstream.
          if (ctx.mcpReq.signal.aborted) call.cancel('The client went away');
          throw forwardingError(error, upstream, scrub.text);
        }
        if (step.done) return step.value;
        const caps = clientCapabilities(ctx);
        const asked: Record<string, { method: string; params: Record<string, unknown> }> = {};
        for (const [key, request] of Object.entries(step.requests)) {
          if (clientCan(caps, request)) {
            asked[key] = { method: request.method, params: scrub.value(request.params) };
            continue;
          }
          if (era === 'modern') {
            // What a 2026-07-28 server answers when a call needs a capability the client did not declare.
            call.cancel('The client lacks a capability the upstream needs');
            const capability = request.method.split('/')[0] === 'elicitation' ? 'elicitation' : request.method.split('/')[0]!;
            throw new ProtocolError(-32021, `The upstream needs the client capability ${capability}`, {
              requiredCapabilities: { [capability]: {} },
            });
          }
          // A 2025 client never gets a request it did not declare: the upstream's request fails, as it would without the gateway.
          call.refuse(key, `The client does not support ${request.method}`);
        }
        if (Object.keys(asked).length === 0) continue;
        held.hold(call);
        call.round += 1;
        const state: GatewayState = { k: 'held', u: upstream, m: method, n: target, c: call.id, r: call.round };
        return { resultType: 'input_required', inputRequests: asked, requestState: await codec.mint(state, ctx) };
      }
    };

    /** {@link forwardOnce}, measured. */
    const forward = async (method: string, target: string, params: Record<string, unknown>, ctx: ServerContext) => {
      const started = process.hrtime.bigint();
      let outcome: 'ok' | 'error' | 'input_required' = 'error';
      try {
        const result = await forwardOnce(method, target, params, ctx);
        outcome = isInputRequired(result) ? 'input_required' : 'ok';
        return result;
      } finally {
        await flush(ctx);
        options.observe?.(method, outcome, Number(process.hrtime.bigint() - started) / 1e9);
      }
    };

    /** Forwards a call, read or prompt: the place where input rounds cross the eras. */
    const forwardOnce = async (method: string, target: string, params: Record<string, unknown>, ctx: ServerContext) => {
      const state = ctx.mcpReq.requestState<GatewayState>();
      if (state !== undefined && (state.u !== upstream || state.m !== method || state.n !== target)) {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'The request state belongs to another request');
      }
      const responses = (ctx.mcpReq.inputResponses ?? {}) as Record<string, unknown>;
      if (state?.k === 'held') {
        const call = held.take(state.c, ownerOf(principal));
        if (!call) throw gatewayError('UpstreamUnavailable', 'The call waiting for this input ended or expired', upstream);
        for (const key of call.waiting()) {
          const answer = responses[key];
          if (answer !== null && typeof answer === 'object') call.answer(key, answer as Record<string, unknown>);
        }
        return drive(call, method, target, ctx);
      }
      const conn = await connection();
      const { _meta: _clientMeta, inputResponses: _responses, requestState: _state, ...rest } = params;
      const meta = upstreamMeta(conn, ctx, params);
      const onprogress = progressOf(ctx);
      if (conn.era === 'modern') {
        // Answers the client sent without a round of ours (or with one) are the upstream's to judge.
        const retry =
          state?.k === 'upstream'
            ? { inputResponses: responses, ...(state.s !== undefined ? { requestState: state.s } : {}) }
            : Object.keys(responses).length
              ? { inputResponses: responses }
              : {};
        let result: Record<string, unknown>;
        // A 2026-07-28 upstream sends no requests of its own; its log messages still reach the client.
        const scope = {
          serverRequest: () => Promise.reject(new Error('Not expected from a 2026-07-28 upstream')),
          log: roundOf(ctx).log,
        };
        try {
          result = await conn.request(
            method,
            { ...rest, ...retry },
            {
              timeoutMs: callTimeoutMs,
              signal: ctx.mcpReq.signal,
              scope,
              meta,
              allowInputRequired: true,
              ...(onprogress ? { onprogress } : {}),
            },
          );
        } catch (error) {
          throw forwardingError(error, upstream, scrub.text);
        }
        if (!isInputRequired(result)) return result;
        const upstreamState = typeof result.requestState === 'string' ? result.requestState : undefined;
        const sealed: GatewayState = { k: 'upstream', u: upstream, m: method, n: target, ...(upstreamState ? { s: upstreamState } : {}) };
        return {
          resultType: 'input_required',
          inputRequests: scrub.value(result.inputRequests),
          requestState: await codec.mint(sealed, ctx),
        };
      }
      const call = new HeldCall(ownerOf(principal), callTimeoutMs);
      // A held call outlives this request: its progress goes to whichever round the client waits on.
      call.run((signal) =>
        conn.request(method, rest, {
          timeoutMs: heldCeilingMs,
          signal,
          scope: call.scope,
          meta,
          ...(onprogress ? { onprogress: call.progress } : {}),
        }),
      );
      return drive(call, method, target, ctx);
    };

    // Pinning judges the list as the upstream listed it (its verdicts are kept per list), then the policy filters.
    const visibleTools = (conn: UpstreamConnection) =>
      (pin ? pin.visible('tool', conn.lists().tools) : conn.lists().tools).filter((tool) => policy.allows(granted, policy.tool(tool.name)));
    /** Refuses the use of a definition pinning blocks (-32019), after recording it. */
    const refuseBlocked = async (kind: DefinitionKind, name: string, items: readonly unknown[], ctx: ServerContext): Promise<void> => {
      const verdict = pin?.blocking(kind, name, items);
      if (!verdict) return;
      // The refusal stands whether or not the trail took it (an audit failure is the writer's to report).
      await pin!
        .recordRefusal(verdict, {
          principal,
          requestId: ctx.http?.req?.headers.get('x-request-id') ?? undefined,
          sessionId: ctx.sessionId,
        })
        .catch(() => undefined);
      throw new ProtocolError(TOOL_BLOCKED_RPC, blockedMessage(verdict), { code: 'tool_blocked', upstream, status: verdict.status });
    };

    low.setRequestHandler('tools/list', async () => {
      const conn = await connection();
      return { tools: scrub.value(visibleTools(conn)) };
    });
    low.setRequestHandler('tools/call', async (request, ctx) => {
      const name = request.params.name;
      const conn = await connection();
      const listed = conn.lists().tools;
      const tool = listed.find((candidate) => candidate.name === name && policy.allows(granted, policy.tool(name)));
      if (!tool) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name.slice(0, 128)}`);
      await refuseBlocked('tool', name, listed, ctx);
      const started = process.hrtime.bigint();
      let outcome: 'success' | 'error' | 'input_required' = 'error';
      try {
        const result = await forward('tools/call', name, request.params as Record<string, unknown>, ctx);
        if (isInputRequired(result)) {
          outcome = 'input_required';
          return result as never;
        }
        outcome = result.isError === true ? 'error' : 'success';
        return low.projectCallToolResult(scrub.value(cleanResult(result)) as never, tool.outputSchema as never);
      } finally {
        await hooks.onToolCall?.({
          tool: name,
          authInfo: ctx.http?.authInfo,
          sessionId: ctx.sessionId,
          requestId: ctx.http?.req?.headers.get('x-request-id') ?? undefined,
          era,
          traceparent: undefined,
          outcome,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
          argsDigest: digestArgs(request.params.arguments),
        });
      }
    });
    if (known.prompts) {
      low.setRequestHandler('prompts/list', async () => {
        const conn = await connection();
        const prompts = pin ? pin.visible('prompt', conn.lists().prompts) : conn.lists().prompts;
        return { prompts: scrub.value(prompts.filter((prompt) => policy.allows(granted, policy.prompt(prompt.name)))) };
      });
      low.setRequestHandler('prompts/get', async (request, ctx) => {
        const name = request.params.name;
        if (!policy.allows(granted, policy.prompt(name))) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Unknown prompt');
        if (pin) await refuseBlocked('prompt', name, (await connection()).lists().prompts, ctx);
        const result = await forward('prompts/get', name, request.params as Record<string, unknown>, ctx);
        return (isInputRequired(result) ? result : scrub.value(cleanResult(result))) as never;
      });
    }
    if (known.resources) {
      low.setRequestHandler('resources/list', async () => {
        const conn = await connection();
        return {
          resources: scrub.value(conn.lists().resources.filter((resource) => policy.allows(granted, policy.resource(resource.uri)))),
        };
      });
      low.setRequestHandler('resources/templates/list', async () => {
        const conn = await connection();
        const listed = pin ? pin.visible('resourceTemplate', conn.lists().resourceTemplates) : conn.lists().resourceTemplates;
        const templates = listed.filter((template) => policy.allows(granted, policy.template(template.uriTemplate)));
        return { resourceTemplates: scrub.value(templates) };
      });
      low.setRequestHandler('resources/read', async (request, ctx) => {
        const uri = request.params.uri;
        if (!policy.allows(granted, policy.resource(uri)))
          throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Resource not found', { uri });
        const result = await forward('resources/read', uri, request.params as Record<string, unknown>, ctx);
        return (isInputRequired(result) ? result : scrub.value(cleanResult(result))) as never;
      });
      if (era === 'legacy') {
        for (const method of ['resources/subscribe', 'resources/unsubscribe'] as const) {
          low.setRequestHandler(method, async (request) => {
            if (!policy.allows(granted, policy.resource(request.params.uri)))
              throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Resource not found');
            const subscribed = method === 'resources/subscribe';
            subscriptions[subscribed ? 'add' : 'delete'](request.params.uri);
            try {
              await options.onSubscription?.(server, principal, request.params.uri, subscribed);
            } catch (error) {
              throw forwardingError(error, upstream, scrub.text);
            }
            return {};
          });
        }
      }
    }
    if (known.completions) {
      low.setRequestHandler('completion/complete', async (request, ctx) => {
        const conn = await connection();
        try {
          const result = await conn.request('completion/complete', request.params as Record<string, unknown>, {
            timeoutMs: callTimeoutMs,
            signal: ctx.mcpReq.signal,
            meta: upstreamMeta(conn, ctx, request.params as Record<string, unknown>),
          });
          return scrub.value(cleanResult(result)) as never;
        } catch (error) {
          throw forwardingError(error, upstream, scrub.text);
        }
      });
    }

    // A 2025 session learns of list changes and of updates to what it subscribed to.
    if (era === 'legacy' && options.onLegacyServer) {
      const release = options.onLegacyServer(Object.assign(server, { subscriptions }), principal);
      const previous = low.onclose;
      low.onclose = () => {
        previous?.();
        release();
      };
    }
    low.onerror = (error) => logger?.debug('gateway MCP server error', { upstream, error: describeError(error) });
    return server;
  };
}
