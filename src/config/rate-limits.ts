import type { ParsedEnv } from './schema.js';
import type { BucketLimitConfig, RateLimitConfig, RateLimitFile } from './types.js';

function bucket(perMinute: number, burst: number): BucketLimitConfig | undefined {
  return perMinute > 0 ? { perMinute, burst } : undefined;
}

/** The rate-limit levels from the environment, with `MCP_RATE_LIMIT_FILE` taking precedence. */
export function buildRateLimits(env: ParsedEnv, file: RateLimitFile): RateLimitConfig {
  const principal = bucket(env.MCP_RATE_LIMIT_PRINCIPAL, env.MCP_RATE_LIMIT_PRINCIPAL_BURST);
  const global = bucket(env.MCP_RATE_LIMIT_GLOBAL, env.MCP_RATE_LIMIT_GLOBAL_BURST);
  return {
    perIp: { limit: env.MCP_RATE_LIMIT, windowMs: env.MCP_RATE_LIMIT_WINDOW },
    principal: file.principal === false ? undefined : (file.principal ?? principal),
    tool: { default: bucket(env.MCP_RATE_LIMIT_TOOL, env.MCP_RATE_LIMIT_TOOL_BURST), tools: file.tools ?? {} },
    global: file.global === false ? undefined : (file.global ?? global),
    maxKeys: env.MCP_RATE_LIMIT_MAX_KEYS,
  };
}
