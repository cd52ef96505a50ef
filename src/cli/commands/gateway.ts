import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { GuardConfig } from '../../config/config.js';
import { ConfigError, loadConfig } from '../../config/load.js';
import { describePosture } from '../../config/posture.js';
import { removeDevTokenFile, writeDevTokenFile } from '../../dev/token-file.js';
import { GatewayFileError, loadGatewayFile, parseUpstream, type GatewayFile } from '../../gateway/file.js';
import type { PinPosture } from '../../pinning/guard.js';
import { startGateway, type RunningGateway } from '../../gateway/start.js';
import { createLogger, type Logger } from '../../logging/logger.js';
import { describeError } from '../../logging/redact.js';
import type { CliCommand, CliIo } from '../command.js';

const USAGE = `Usage: mcp-guard gateway --upstream <url> [options]
       mcp-guard gateway [options] -- <command> [args...]
       MCP_GATEWAY_FILE=gateway.json mcp-guard gateway

Puts the security stack in front of an MCP server you did not write: an HTTP
server of either protocol era (--upstream), or a stdio server the gateway
starts for each principal (after --, run directly, never through a shell).
Clients connect to <MCP_PATH>/<name> with the credentials of the server's
own configuration (MCP_AUTH_TOKEN, MCP_API_KEYS, ...; none: development mode).

Quick start: every tool, prompt and resource of the upstream needs the
permission tools:call, prompts:get or resources:read (any built-in role but
monitor has them). For a policy per tool, limits and several upstreams, use
a gateway file (MCP_GATEWAY_FILE; see docs/gateway.md).

Options:
  --upstream <url>         the upstream's MCP endpoint (http or https)
  --name <name>            the mount name (default: upstream)
  --bearer-file <path>     a file holding the upstream's bearer token
  --bearer-env <name>      an environment variable holding it
  --protocol <p>           auto (default), 2025 or 2026-07-28
  --share <mode>           stdio: principal (default), tenant or shared
  --lock <path>            report tool definitions that drift from this lock (warn
                           mode, pinned on first use; docs/pinning.md); default: none
`;

/** The quick start's policy: every name of the upstream needs the usual MCP permission. */
const QUICK_POLICY = { default: { tools: 'tools:call', prompts: 'prompts:get', resources: 'resources:read' } };
/** With --lock, the quick start reports drift from that lock and blocks nothing (docs/pinning.md); without, it pins nothing. */
const QUICK_PINNING = { mode: 'warn' };

/** The gateway file the quick-start flags describe; throws GatewayFileError (or a usage error). */
export function quickStartFile(args: string[], env: Readonly<Record<string, string | undefined>>): GatewayFile {
  const dash = args.indexOf('--');
  const flags = dash >= 0 ? args.slice(0, dash) : args;
  const command = dash >= 0 ? args.slice(dash + 1) : [];
  const { values, positionals } = parseArgs({
    args: flags,
    allowPositionals: true,
    strict: true,
    options: {
      upstream: { type: 'string' },
      name: { type: 'string' },
      'bearer-file': { type: 'string' },
      'bearer-env': { type: 'string' },
      protocol: { type: 'string' },
      share: { type: 'string' },
      lock: { type: 'string' },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]!.slice(0, 64)}"`);
  const hasUpstream = values.upstream !== undefined;
  if (env.MCP_GATEWAY_FILE && (hasUpstream || command.length || values.lock))
    throw new UsageError('MCP_GATEWAY_FILE is set: give the upstreams there, not on the command line');
  if (env.MCP_GATEWAY_FILE) return loadGatewayFile(env.MCP_GATEWAY_FILE);
  if (hasUpstream === command.length > 0) throw new UsageError('give either --upstream <url> or -- <command> [args...]');
  if (values['bearer-file'] && values['bearer-env']) throw new UsageError('give --bearer-file or --bearer-env, not both');
  const token = values['bearer-file'] ? { file: values['bearer-file'] } : values['bearer-env'] ? { env: values['bearer-env'] } : undefined;
  const entry: Record<string, unknown> = hasUpstream
    ? { url: values.upstream, ...(token ? { auth: { type: 'bearer', token } } : {}) }
    : { command: command[0], args: command.slice(1), ...(values.share ? { share: values.share } : {}) };
  if (token && !hasUpstream) throw new UsageError('--bearer-file and --bearer-env apply to --upstream only');
  if (values.share && hasUpstream) throw new UsageError('--share applies to a stdio upstream only');
  if (values.protocol) entry.protocol = values.protocol;
  entry.policy = QUICK_POLICY;
  if (values.lock) entry.pinning = QUICK_PINNING;
  const problems: string[] = [];
  const spec = parseUpstream(values.name ?? 'upstream', entry, problems);
  if (!spec) throw new GatewayFileError(problems.map((problem) => problem.replace(/^upstreams\.[^.:]+\.?/, '').replace(/^: /, '')));
  return { upstreams: [spec], ...(values.lock ? { lockPath: resolve(values.lock) } : {}) };
}

class UsageError extends Error {}

/** Development mode: the token file for `mcp-guard dev`, and what to paste into a client. */
function announceDevelopmentMode(config: GuardConfig, running: RunningGateway, io: CliIo, logger: Logger): string | undefined {
  const token = running.gateway.devToken;
  if (!token) return undefined;
  const urls = Object.values(running.mcpUrls);
  const path = resolve(config.auth.devTokenFile);
  try {
    writeDevTokenFile(path, { url: urls[0]!, token, pid: process.pid });
  } catch (error) {
    logger.warn('development token file not written: use GET /session for a token', { file: path, error: describeError(error) });
    return undefined;
  }
  io.stderr(
    [
      'mcp-guard gateway is in development mode (no credential configured). Connect a client from this machine:',
      ...urls.map((url) => `  endpoint  ${url}`),
      '  token     npx mcp-guard dev token',
      'The token is accepted from this machine only and dies when this gateway stops. See docs/gateway.md.',
      '',
    ].join('\n'),
  );
  return path;
}

/** The pinning part of the posture (docs/pinning.md): each upstream's mode and lock state, loud when something is off. */
export function announcePinning(postures: readonly PinPosture[], unpinned: readonly string[], logger: Logger): void {
  for (const upstream of unpinned) {
    logger.warn(`Upstream ${upstream}: tool definitions are not pinned; a changed or added tool is served as it is.`, {
      code: 'MCPG_PIN_OFF',
    });
  }
  for (const pin of postures) {
    const { upstream, mode, state, counts, blocked } = pin;
    logger.info('tool pinning', { upstream, mode, lock: pin.lock, state, ...counts, blocked });
    if (state === 'lock unusable') {
      logger.error(
        `Upstream ${upstream}: the tool lock cannot be used; ${mode === 'enforce' ? 'every tool is refused' : 'drift is not checked'} until it is repaired.`,
        {
          code: 'MCPG_PIN_LOCK_UNUSABLE',
        },
      );
    }
    if (state === 'not pinned' && mode === 'enforce') {
      logger.warn(
        `Upstream ${upstream} has nothing in the tool lock: every tool it lists is refused until mcp-guard tools pin or approve.`,
        {
          code: 'MCPG_PIN_NOT_PINNED',
        },
      );
    }
    if (blocked > 0)
      logger.warn(`Upstream ${upstream}: ${blocked} definitions blocked by pinning; see mcp-guard tools diff.`, {
        code: 'MCPG_PIN_BLOCKED',
      });
  }
}

/** `mcp-guard gateway`: the security stack in front of upstream MCP servers (docs/gateway.md). */
export const gatewayCommand: CliCommand = {
  name: 'gateway',
  summary: 'Put the security stack in front of other MCP servers (HTTP or stdio)',
  async run(args, io) {
    if (args.includes('--help') && !args.slice(0, Math.max(0, args.indexOf('--'))).length) {
      io.stdout(USAGE);
      return 0;
    }
    let config: GuardConfig;
    let file: GatewayFile;
    try {
      config = loadConfig(io.env);
      file = quickStartFile(args, io.env);
    } catch (error) {
      if (error instanceof UsageError) io.stderr(`gateway: ${error.message}\n\n${USAGE}`);
      else if (error instanceof ConfigError || error instanceof GatewayFileError) io.stderr(`${error.message}\n`);
      else if ((error as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
        io.stderr(`gateway: ${(error as Error).message}\n\n${USAGE}`);
      else io.stderr(`gateway: ${describeError(error).message}\n`);
      return 2;
    }
    const logger = createLogger({ level: config.server.logLevel });
    const posture = describePosture(config);
    logger.info('mcp-guard security posture', {
      ...posture.summary,
      gateway: file.upstreams.map((spec) => `${spec.name}: ${spec.kind === 'http' ? new URL(spec.url).origin : 'stdio'} (${spec.share})`),
    });
    for (const warning of posture.warnings) logger.warn(warning.message, { code: warning.code });
    for (const spec of file.upstreams) {
      const open = Object.entries(spec.policy.default).filter(([, permission]) => permission !== 'deny');
      if (open.length) {
        logger.warn(
          `Upstream ${spec.name}: names the policy does not list are allowed with ${open.map(([kind, p]) => `${kind} ${p}`).join(', ')}.`,
          {
            code: 'MCPG_GATEWAY_DEFAULT_ALLOW',
          },
        );
      }
    }
    let running: RunningGateway;
    try {
      running = await startGateway(config, file, logger, { env: io.env });
    } catch (error) {
      if (error instanceof GatewayFileError) io.stderr(`${error.message}\n`);
      else logger.error('start-up failed', { error: describeError(error) });
      return 1;
    }
    const dev: { tokenFile?: string | undefined } = {};
    const stopped = new Promise<number>((done) => {
      const onSignal = (signal: NodeJS.Signals): void => {
        logger.info('shutting down', { signal });
        const force = setTimeout(() => done(1), config.server.shutdownTimeoutMs + 2_000);
        force.unref();
        running
          .stop()
          .then(() => {
            if (dev.tokenFile) removeDevTokenFile(dev.tokenFile, running.gateway.devToken!);
            logger.info('stopped');
            done(0);
          })
          .catch((error: unknown) => {
            logger.error('shutdown failed', { error: describeError(error) });
            done(1);
          });
      };
      process.on('SIGHUP', () => {
        running.gateway.reloadCredentials();
        running.gateway.pinning.reload();
      });
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    });
    announcePinning(running.gateway.pinning.posture(), running.gateway.pinning.unpinned(), logger);
    logger.info('mcp-guard gateway listening', { url: running.url, mcp: running.mcpUrls });
    dev.tokenFile = announceDevelopmentMode(config, running, io, logger);
    const code = await stopped;
    process.exit(code);
  },
};
