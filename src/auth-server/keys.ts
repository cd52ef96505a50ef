import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

/** A private signing key as the keys file holds it (a JWK with `kid` and `alg`). */
export interface SigningJwk extends JsonWebKey {
  kid: string;
  alg: 'ES256' | 'RS256';
}

/** The signing keys: the first signs, every one verifies and is published. */
export interface SigningKeys {
  /** Private JWKs for the OAuth library, signing key first. */
  privateJwks: SigningJwk[];
  /** The public JWK set served at the JWKS endpoint and used to verify access tokens. */
  publicJwks: { keys: JsonWebKey[] };
  /** Keys for the library's signed cookies, derived from the signing keys (same on every replica). */
  cookieKeys: string[];
}

/** A keys file that cannot be used. The message never quotes key material. */
export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

const PUBLIC_MEMBERS: Record<string, string[]> = { EC: ['kty', 'crv', 'x', 'y'], RSA: ['kty', 'n', 'e'] };

function checkKey(jwk: unknown, index: number): SigningJwk {
  const where = `key ${index + 1}`;
  if (!jwk || typeof jwk !== 'object') throw new SigningKeyError(`${where} is not a JWK`);
  const key = jwk as Partial<SigningJwk>;
  if (typeof key.kid !== 'string' || !/^[A-Za-z0-9_-]{8,64}$/.test(key.kid))
    throw new SigningKeyError(`${where}: kid must be 8-64 characters of letters, digits, - or _`);
  let privateKey;
  try {
    privateKey = createPrivateKey({ key: key as JsonWebKey, format: 'jwk' });
  } catch {
    throw new SigningKeyError(`${where} (${key.kid}) is not a private JWK`);
  }
  const details = privateKey.asymmetricKeyDetails;
  if (key.kty === 'EC' && key.crv === 'P-256' && (key.alg ?? 'ES256') === 'ES256') return { ...key, alg: 'ES256' } as SigningJwk;
  if (key.kty === 'RSA' && (details?.modulusLength ?? 0) >= 2048 && (key.alg ?? 'RS256') === 'RS256')
    return { ...key, alg: 'RS256' } as SigningJwk;
  throw new SigningKeyError(`${where} (${key.kid}) must be a P-256 key (ES256) or an RSA key of 2048 bits or more (RS256)`);
}

/**
 * Reads and checks the signing keys file: a JWK set of private keys, the
 * first of which signs. Refuses a file others can read, duplicate `kid`s, and
 * anything but P-256 and RSA (2048 bits or more) keys.
 *
 * @example const keys = readSigningKeys('/run/secrets/mcp-guard-signing-keys.json');
 */
export function readSigningKeys(path: string): SigningKeys {
  let text: string;
  try {
    if ((statSync(path).mode & 0o077) !== 0)
      throw new SigningKeyError('MCP_AUTH_SERVER_KEYS_FILE: the file must not be readable by group or others (chmod 600)');
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof SigningKeyError) throw error;
    throw new SigningKeyError('MCP_AUTH_SERVER_KEYS_FILE: cannot read the file it names');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SigningKeyError('MCP_AUTH_SERVER_KEYS_FILE: not JSON');
  }
  const list = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list) || list.length === 0 || list.length > 10)
    throw new SigningKeyError('MCP_AUTH_SERVER_KEYS_FILE: must be {"keys": [...]} with 1 to 10 private keys');
  return signingKeysOf(list.map(checkKey));
}

/** Derives the published set and cookie keys from checked private keys. */
export function signingKeysOf(privateJwks: SigningJwk[]): SigningKeys {
  const kids = new Set(privateJwks.map((key) => key.kid));
  if (kids.size !== privateJwks.length) throw new SigningKeyError('MCP_AUTH_SERVER_KEYS_FILE: every kid must be unique');
  const publicJwks = {
    keys: privateJwks.map((key) => {
      const exported = createPublicKey({ key, format: 'jwk' }).export({ format: 'jwk' }) as Record<string, unknown>;
      const members = Object.fromEntries((PUBLIC_MEMBERS[key.kty!] ?? []).map((name) => [name, exported[name]]));
      return { ...members, kid: key.kid, alg: key.alg, use: 'sig' } as JsonWebKey;
    }),
  };
  // Cookie keys come from the private keys (never published), so replicas agree without another secret.
  const cookieKeys = privateJwks.map((key) =>
    createHmac('sha256', JSON.stringify([key.d, key.kid]))
      .update('mcp-guard auth-server cookies')
      .digest('base64url'),
  );
  return { privateJwks, publicJwks, cookieKeys };
}

/**
 * A new P-256 signing key with a random `kid`, as the keys file holds it.
 *
 * @example const file = { keys: [generateSigningKey()] };
 */
export function generateSigningKey(): SigningJwk {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: randomBytes(12).toString('base64url'), alg: 'ES256' };
}
