import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GuardConfig } from '../config/config.js';

/** What {@link listen} needs of an app: its request listener and its two-step stop. */
export interface Servable {
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  markReady(): void;
  drain(deadline: number): Promise<void>;
  close(): Promise<void>;
}

/** A listening server and its graceful stop. */
export interface Listening {
  server: Server;
  /** Base URL, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Graceful stop: stop accepting, drain, close sessions and streams, then the app. */
  stop(): Promise<void>;
}

/**
 * Serves `app` on the configured address with the configured timeouts, marks
 * it ready once it listens, and gives the graceful stop: requests in flight
 * may finish until four fifths of the shutdown timeout, then everything is
 * closed. A failure to listen closes the app and rejects.
 */
export async function listen(config: GuardConfig, app: Servable): Promise<Listening> {
  const server = createServer(
    {
      requestTimeout: config.server.requestTimeoutMs,
      headersTimeout: config.server.headersTimeoutMs,
      // Node enforces both timeouts only when it sweeps connections (every 30 s
      // by default), so a slow-loris client would outlive a 1 s limit by 30 s.
      connectionsCheckingInterval: Math.min(1_000, config.server.headersTimeoutMs),
      keepAliveTimeout: 5_000,
    },
    app.handle,
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
    await app.close();
    throw error;
  }
  app.markReady();
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const deadline = Date.now() + config.server.shutdownTimeoutMs;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await app.drain(deadline - config.server.shutdownTimeoutMs / 5);
      server.closeIdleConnections();
      const idle = setInterval(() => server.closeIdleConnections(), 50);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))))]);
      clearTimeout(timer);
      clearInterval(idle);
      server.closeAllConnections();
      await app.close();
    })();
    return stopping;
  };
  return { server, url: `http://${host}:${port}`, stop };
}
