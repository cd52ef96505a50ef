import { z } from 'zod';
import { bucketLimitSchema as limit } from '../middleware/rate-limit/levels.js';
import type { RateLimitFile } from './config.js';

/** The shape of `MCP_RATE_LIMIT_FILE` (JSON). `false` turns a level off. */
export const rateLimitFileSchema = z.strictObject({
  principal: z.union([limit, z.literal(false)]).optional(),
  tools: z.record(z.string().min(1).max(128), limit).optional(),
  global: z.union([limit, z.literal(false)]).optional(),
});

/** Parses a rate-limit file, pushing each problem (with its JSON path) to `problems`. */
export function parseRateLimitFile(text: string, problems: string[]): RateLimitFile | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push('MCP_RATE_LIMIT_FILE: not valid JSON');
    return undefined;
  }
  const parsed = rateLimitFileSchema.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`MCP_RATE_LIMIT_FILE: ${issue.path.join('.') || '(file)'}: ${issue.message}`);
    return undefined;
  }
  return parsed.data;
}
