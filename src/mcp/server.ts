import { randomBytes } from 'node:crypto';
import { createRequestStateCodec, McpServer, type AuthInfo } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import { principalOf } from '../core/principal.js';
import type { Logger } from '../logging/logger.js';
import type { McpEra } from './era.js';
import type { HandlerContext, McpHooks, SessionSummary, Toolset, ToolsetPolicy } from './toolset.js';

/** Options of {@link createServerFactory}. */
export interface ServerFactoryOptions {
  toolset: Toolset;
  hooks?: McpHooks;
  logger?: Logger;
  /** Server name and version announced to clients. Default `mcp-guard` and the package version. */
  name?: string;
  version?: string;
  /** Open sessions, for administrative tools. Default: none. */
  listSessions?: () => SessionSummary[];
  /** Permissions in force, when configuration overrides the toolset's own. Default `toolset.policy`. */
  policy?: ToolsetPolicy;
  /**
   * HMAC key (at least 32 bytes) sealing `input_required` request state. Every
   * replica must share it. Default: a random key per process.
   */
  requestStateKey?: Uint8Array | string;
  /** How long sealed request state stays valid, in seconds. Default 600. */
  requestStateTtlSeconds?: number;
}

/** What a server is built for: one principal, in one era. */
export interface ServerContextInput {
  authInfo: AuthInfo | undefined;
  era: McpEra;
  /** A server built to serve one `tools/call` needs only that tool. Default: every tool. */
  onlyTool?: string | undefined;
}

/** Builds one MCP server for one principal (a 2025 session, or one request). */
export type ServerFactory = (context: ServerContextInput) => McpServer;

const CACHEABLE = [
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'server/discover',
] as const;

/**
 * The binding of sealed `input_required` request state: the principal, its
 * tenant and the method. Pass it as the `bind` option of the SDK's
 * `createRequestStateCodec`: state echoed by another principal fails
 * verification. (The reference server also seals the tool's name into the
 * state, see `installTools`.)
 *
 * @example createRequestStateCodec({ key, bind: requestStateBinding })
 */
export function requestStateBinding(ctx: HandlerContext): string {
  const principal = principalOf(ctx.http?.authInfo);
  return [principal?.id ?? ctx.http?.authInfo?.clientId ?? '', principal?.tenant ?? '', ctx.mcpReq.method].join('\0');
}

/**
 * Returns a factory of MCP servers that expose only what the principal may
 * use. Expensive parts are made once and shared: the JSON-schema validator,
 * the request-state codec and the toolset's definitions. Every cacheable
 * 2026-07-28 result is marked `cacheScope: private`: what a server returns is
 * filtered for its principal, so no shared cache may keep it.
 */
export function createServerFactory(options: ServerFactoryOptions): ServerFactory {
  const { toolset, hooks = {}, logger, name = 'mcp-guard', version = '0.1.0', listSessions = () => [], policy = toolset.policy } = options;
  const jsonSchemaValidator = new AjvJsonSchemaValidator();
  const codec = createRequestStateCodec<unknown>({
    key: options.requestStateKey ?? randomBytes(32),
    ttlSeconds: options.requestStateTtlSeconds ?? 600,
    bind: requestStateBinding,
  });
  const cacheHints = Object.fromEntries(CACHEABLE.map((method) => [method, { ttlMs: 0, cacheScope: 'private' as const }]));
  return ({ authInfo, era, onlyTool }) => {
    const server = new McpServer(
      { name, version },
      {
        jsonSchemaValidator,
        capabilities: { logging: {} },
        cacheHints,
        requestState: { verify: (state, ctx) => codec.verify(state, ctx) },
      },
    );
    toolset.install(server, {
      authInfo,
      era,
      hooks,
      logger,
      listSessions,
      policy,
      only: onlyTool,
      mintState: (state, ctx) => codec.mint(state, ctx),
    });
    return server;
  };
}
