import type { Server } from 'node:http';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp, type GuardApp } from './app.js';
import { listen } from './app/listen.js';
import type { GuardConfig } from './config/config.js';
import { ConfigError, loadConfig } from './config/load.js';
import { describePosture } from './config/posture.js';
import { DEFAULT_DEV_TOKEN_FILE } from './config/schema.js';
import { removeDevTokenFile, writeDevTokenFile } from './dev/token-file.js';
import { createLogger, type Logger } from './logging/logger.js';
import { describeError } from './logging/redact.js';

/** A listening mcp-guard server. */
export interface RunningServer {
  server: Server;
  guard: GuardApp;
  /** Base URL, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Graceful stop: stop accepting, drain, close sessions and streams, flush audit. */
  stop(): Promise<void>;
}

/** Starts the reference server for `config` and resolves once it listens. */
export async function startServer(config: GuardConfig, logger: Logger): Promise<RunningServer> {
  const guard = await createApp(config, { logger });
  const { server, url, stop } = await listen(config, guard);
  return { server, guard, url, stop };
}

/**
 * Development mode: writes the process's development token to its private
 * file (for `mcp-guard dev`) and prints how to connect a desktop client. The
 * token itself is never printed or logged. Returns the file's path, or
 * undefined when there is none.
 */
function announceDevelopmentMode(config: GuardConfig, running: RunningServer, logger: Logger): string | undefined {
  const token = running.guard.devToken;
  if (!token) return undefined;
  const mcpUrl = `${running.url}${config.mcp.path}`;
  const path = resolve(config.auth.devTokenFile);
  try {
    writeDevTokenFile(path, { url: mcpUrl, token, pid: process.pid });
  } catch (error) {
    logger.warn('development token file not written: use GET /session for a token', { file: path, error: describeError(error) });
    return undefined;
  }
  const file = config.auth.devTokenFile === DEFAULT_DEV_TOKEN_FILE ? '' : ` --file ${path}`;
  process.stderr.write(
    [
      'mcp-guard is in development mode (no credential configured). Connect a client from this machine:',
      `  endpoint  ${mcpUrl}`,
      `  token     npx mcp-guard dev token${file}`,
      `  clients   npx mcp-guard dev config <vscode|cursor|claude-code|claude-desktop|inspector>${file}`,
      'The token is accepted from this machine only and dies when this server stops. See docs/clients.md.',
      '',
    ].join('\n'),
  );
  return path;
}

/**
 * The process entry: reads the configuration from the environment, prints
 * the security posture, listens, and stops gracefully on SIGTERM/SIGINT
 * within the configured shutdown timeout.
 */
export async function runServer(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: GuardConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? error.message : 'Invalid configuration'}\n`);
    process.exitCode = 1;
    return;
  }
  const logger = createLogger({ level: config.server.logLevel });
  const posture = describePosture(config);
  logger.info('mcp-guard security posture', posture.summary);
  for (const warning of posture.warnings) logger.warn(warning.message, { code: warning.code });

  let running: RunningServer;
  try {
    running = await startServer(config, logger);
  } catch (error) {
    logger.error('start-up failed', { error: describeError(error) });
    process.exitCode = 1;
    return;
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info('shutting down', { signal });
    const force = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.server.shutdownTimeoutMs + 2_000);
    force.unref();
    running
      .stop()
      .then(() => {
        if (devTokenFile) removeDevTokenFile(devTokenFile, running.guard.devToken!);
        logger.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error('shutdown failed', { error: describeError(error) });
        process.exit(1);
      });
  };
  // Before anything says the server is up: a supervisor that stops it on reading "listening" must
  // reach the graceful stop, not the default action of the signal (an immediate exit).
  // SIGHUP re-reads the API key store (it is also watched for changes).
  process.on('SIGHUP', () => running.guard.reloadCredentials());
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  logger.info('mcp-guard listening', { url: running.url, mcp: `${running.url}${config.mcp.path}` });
  // Read by onSignal, which runs from the event loop, so after this line.
  const devTokenFile = announceDevelopmentMode(config, running, logger);
}

/**
 * True when `entry` (the script node was started with, `process.argv[1]`) is
 * the module at `moduleUrl`, also through a symbolic link such as npm's
 * `node_modules/.bin/mcp-guard`: the guard of the server and CLI entry
 * modules, so that importing either runs nothing.
 */
export function isEntryPoint(entry: string | undefined, moduleUrl: string): boolean {
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

if (isEntryPoint(process.argv[1], import.meta.url)) void runServer();
