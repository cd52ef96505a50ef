import { randomBytes } from 'node:crypto';

/** Environment an API key belongs to, visible in the key itself. */
export type KeyEnvironment = 'live' | 'test';

/** All API keys of the key store start with this. */
export const API_KEY_PREFIX = 'mcpg_';

// mcpg_<env>_<16 hex: key id><43 base64url: 256-bit secret>. The id is not
// secret: it lets the verifier find the record (and the lockout count one
// address's failures against it) without comparing the candidate with every
// stored hash.
const KEY_PATTERN = /^mcpg_(live|test)_([0-9a-f]{16})([A-Za-z0-9_-]{43})$/;

/** A freshly generated key: the secret is shown once and never stored. */
export interface GeneratedKey {
  id: string;
  environment: KeyEnvironment;
  /** The full key, e.g. `mcpg_live_0f3a...`. Show it once; only its hash is kept. */
  key: string;
}

/** Generates an API key: a 64-bit id and 256 bits of secret from the CSPRNG. */
export function generateApiKey(environment: KeyEnvironment = 'live'): GeneratedKey {
  const id = randomBytes(8).toString('hex');
  const key = `${API_KEY_PREFIX}${environment}_${id}${randomBytes(32).toString('base64url')}`;
  return { id, environment, key };
}

/** The id and environment embedded in a key, or undefined when it is not a key-store key. */
export function parseApiKey(value: string): { id: string; environment: KeyEnvironment } | undefined {
  const match = KEY_PATTERN.exec(value);
  return match ? { id: match[2]!, environment: match[1] as KeyEnvironment } : undefined;
}
