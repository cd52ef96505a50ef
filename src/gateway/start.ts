import type { Server } from 'node:http';
import { listen } from '../app/listen.js';
import type { GuardConfig } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { createGatewayApp, type GatewayApp, type GatewayDependencies } from './app.js';
import type { GatewayFile } from './file.js';

/** A listening gateway. */
export interface RunningGateway {
  server: Server;
  gateway: GatewayApp;
  /** Base URL, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Each upstream's MCP URL, by upstream name. */
  mcpUrls: Record<string, string>;
  /** Graceful stop: stop accepting, drain, close sessions, streams and upstream connections, flush audit. */
  stop(): Promise<void>;
}

/**
 * Starts the gateway for `config` and `file` and resolves once it listens
 * (each upstream was reached once, or reported unreachable, before).
 *
 * @example const running = await startGateway(loadConfig(process.env), loadGatewayFile(path), logger, { env: process.env });
 */
export async function startGateway(
  config: GuardConfig,
  file: GatewayFile,
  logger: Logger,
  deps: Omit<GatewayDependencies, 'logger'> = {},
): Promise<RunningGateway> {
  const gateway = await createGatewayApp(config, file, { ...deps, logger });
  const { server, url, stop } = await listen(config, { ...gateway, handle: gateway.app });
  const mcpUrls = Object.fromEntries(gateway.routes.map((route) => [route.mount.name, `${url}${route.path}`]));
  return { server, gateway, url, mcpUrls, stop };
}
