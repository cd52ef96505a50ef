import { randomBytes } from 'node:crypto';

/** The machine's Redis, shared by every test run: always use a unique prefix, never flush it. */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test (or concurrent run) uses. */
export function uniquePrefix(label = 'test'): string {
  return `mcpg-test:${label}:${randomBytes(6).toString('hex')}:`;
}
