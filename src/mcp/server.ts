import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { Logger } from '../logging/logger.js';
import type { McpHooks, SessionSummary, Toolset, ToolsetPolicy } from './toolset.js';

/** Options of {@link createServerFactory}. */
export interface ServerFactoryOptions {
  toolset: Toolset;
  hooks?: McpHooks;
  logger?: Logger;
  /** Server name and version announced at initialize. Default `mcp-guard` and the package version. */
  name?: string;
  version?: string;
  /** Open sessions, for administrative tools. Default: none. */
  listSessions?: () => SessionSummary[];
  /** Permissions in force, when configuration overrides the toolset's own. Default `toolset.policy`. */
  policy?: ToolsetPolicy;
}

/** Builds one MCP server for one principal (a session, or a stateless request). */
export type ServerFactory = (authInfo: AuthInfo | undefined) => McpServer;

/**
 * Returns a factory of MCP servers that expose only what the principal may
 * use. Expensive parts are made once and shared: the JSON-schema validator
 * (compiling one per server costs about as much as the rest of a stateless
 * request) and the toolset's definitions.
 */
export function createServerFactory(options: ServerFactoryOptions): ServerFactory {
  const { toolset, hooks = {}, logger, name = 'mcp-guard', version = '0.1.0', listSessions = () => [], policy = toolset.policy } = options;
  const jsonSchemaValidator = new AjvJsonSchemaValidator();
  return (authInfo) => {
    const server = new McpServer({ name, version }, { jsonSchemaValidator, capabilities: { logging: {} } });
    toolset.install(server, { authInfo, hooks, logger, listSessions, policy });
    return server;
  };
}
