import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  const server = createServer(
    {
      requestTimeout: config.server.requestTimeoutMs,
      headersTimeout: config.server.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, config.server.headersTimeoutMs),
      keepAliveTimeout: 5_000,
    },
    gateway.app,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.server.port, config.server.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await gateway.close();
    throw error;
  }
  gateway.markReady();
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const deadline = Date.now() + config.server.shutdownTimeoutMs;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.drain(deadline - config.server.shutdownTimeoutMs / 5);
      server.closeIdleConnections();
      const idle = setInterval(() => server.closeIdleConnections(), 50);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))))]);
      clearTimeout(timer);
      clearInterval(idle);
      server.closeAllConnections();
      await gateway.close();
    })();
    return stopping;
  };
  const mcpUrls = Object.fromEntries(gateway.routes.map((route) => [route.mount.name, `${url}${route.path}`]));
  return { server, gateway, url, mcpUrls, stop };
}
