import { readFileSync } from 'node:fs';
import { defaultRbac, parseRbacFile, type RbacPolicy } from './rbac.js';
import { parseRateLimitFile } from './rate-limit-file.js';
import type { RateLimitFile } from './config.js';
import { buildConfig, parseApiKeys, parseTrustProxy, type GuardConfig } from './config.js';
import { envSchema, FALLBACK_VARIABLES, SECRET_VARIABLES } from './schema.js';

/** Thrown by {@link loadConfig}: every problem found, one per line, no secret values. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads a file; injectable for tests. */
export type FileReader = (path: string) => string;

const readText: FileReader = (path) => readFileSync(path, 'utf8');

function readRbacFile(path: string, readFile: FileReader, problems: string[]): RbacPolicy | undefined {
  let text: string | undefined;
  try {
    text = readFile(path);
  } catch {
    problems.push('MCP_RBAC_FILE: cannot read the file it names');
  }
  return text === undefined ? undefined : parseRbacFile(text, problems);
}

/**
 * The roles and permission overrides alone: the built-in roles plus those of
 * `MCP_RBAC_FILE`, checked as {@link loadConfig} checks them. For commands
 * that need the role names without a whole server configuration (`keys create`).
 *
 * @example const { roles } = loadRbac(process.env);
 */
export function loadRbac(env: Readonly<Record<string, string | undefined>>, readFile: FileReader = readText): RbacPolicy {
  const path = env.MCP_RBAC_FILE?.trim();
  if (!path) return defaultRbac();
  const problems: string[] = [];
  const rbac = readRbacFile(path, readFile, problems);
  if (!rbac || problems.length) throw new ConfigError(problems);
  return rbac;
}

/**
 * Reads the configuration from environment variables. Pure apart from reading
 * `NAME_FILE` secrets: it never touches `process`, never exits, and throws one
 * {@link ConfigError} listing every problem at once.
 *
 * @example const config = loadConfig(process.env);
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, readFile: FileReader = readText): GuardConfig {
  const problems: string[] = [];
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    input[key] = value === undefined || value.trim() === '' ? undefined : value;
  }
  for (const [fallback, target] of Object.entries(FALLBACK_VARIABLES)) {
    const value = env[fallback];
    if (input[target] === undefined && value !== undefined && value.trim() !== '') input[target] = value;
  }
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file.trim() === '') continue;
    if (input[name] !== undefined) {
      problems.push(`${name}: set either ${name} or ${name}_FILE, not both`);
      continue;
    }
    try {
      // Secret files conventionally end with a newline that is not part of the secret.
      input[name] = readFile(file).replace(/\r?\n$/, '');
    } catch {
      problems.push(`${name}_FILE: cannot read the file it names`);
    }
  }

  // Parsed outside zod so that their problems are reported with the schema's.
  const apiKeys = parseApiKeys(input.MCP_API_KEYS, problems);
  const trustProxy = parseTrustProxy(input.MCP_TRUST_PROXY, problems);
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join('.') || 'environment'}: ${issue.message}`);
    }
    throw new ConfigError(problems);
  }
  const rbac = parsed.data.MCP_RBAC_FILE ? readRbacFile(parsed.data.MCP_RBAC_FILE, readFile, problems) : undefined;
  let rateLimitFile: RateLimitFile | undefined;
  if (parsed.data.MCP_RATE_LIMIT_FILE) {
    let text: string | undefined;
    try {
      text = readFile(parsed.data.MCP_RATE_LIMIT_FILE);
    } catch {
      problems.push('MCP_RATE_LIMIT_FILE: cannot read the file it names');
    }
    if (text !== undefined) rateLimitFile = parseRateLimitFile(text, problems);
  }
  const config = buildConfig(parsed.data, { apiKeys, trustProxy, rbac, rateLimitFile }, problems);
  if (problems.length) throw new ConfigError(problems);
  return config;
}
