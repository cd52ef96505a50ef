import winston from 'winston';
import { redact } from './redact.js';

/** The operational logger shape mcp-guard uses: winston's. */
export type Logger = winston.Logger;

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level. Default `info`. */
  level?: 'error' | 'warn' | 'info' | 'http' | 'debug';
  /** Drop everything (tests). Default `false`. */
  silent?: boolean;
  /** Where lines go. Default: the console (stdout). */
  transports?: winston.transport[];
}

// Strips stacks and redacts credentials in every string field of a log entry.
const sanitize = winston.format((info) => {
  delete (info as { stack?: unknown }).stack;
  for (const key of Object.keys(info)) {
    const value = info[key];
    if (typeof value === 'string') info[key] = redact(value);
  }
  if (typeof info.message === 'string') info.message = redact(info.message);
  return info;
});

/**
 * Creates the operational (not audit) logger: one JSON object per line with a
 * timestamp. Stacks are never written and credential-looking strings are redacted.
 *
 * @example const logger = createLogger({ level: 'debug' });
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return winston.createLogger({
    level: options.level ?? 'info',
    silent: options.silent ?? false,
    format: winston.format.combine(sanitize(), winston.format.timestamp(), winston.format.json()),
    transports: options.transports ?? [new winston.transports.Console()],
  });
}

/** A logger that writes nothing: the default when none is passed in. */
export function createSilentLogger(): Logger {
  return createLogger({ silent: true });
}
