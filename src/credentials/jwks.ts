import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

/** An asymmetric JWT algorithm mcp-guard accepts; each key is pinned to exactly one. */
export type AsymmetricAlgorithm = 'RS256' | 'ES256';

/** A verification key and the one algorithm it may be used with. */
export interface PinnedKey {
  key: KeyObject;
  algorithm: AsymmetricAlgorithm;
}

/** Options of {@link createJwksCache}. */
export interface JwksCacheOptions {
  /** The JWKS URL of the authorization server (https, or http on loopback for tests). */
  uri: string;
  /** Least time between two fetches, however many unknown `kid`s arrive. Default 30,000 ms. */
  minRefetchIntervalMs?: number;
  /** Time a fetch may take. Default 3,000 ms. */
  timeoutMs?: number;
  /** Fetch implementation, for tests. Default the global `fetch`. */
  fetch?: typeof fetch;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Signing keys of an authorization server, fetched from its JWKS and cached by `kid`. */
export interface JwksCache {
  /** The key for `kid` (refetching the set, at a bounded rate, when unknown); undefined when none fits. */
  getKey(kid: string | undefined): Promise<PinnedKey | undefined>;
  /** Number of fetches made so far (for tests and metrics). */
  fetches(): number;
}

/** The key and algorithm of a public key: RSA to RS256, P-256 to ES256; undefined for anything else. */
export function pinKey(key: KeyObject): PinnedKey | undefined {
  if (key.type !== 'public') return undefined;
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return { key, algorithm: 'RS256' };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { key, algorithm: 'ES256' };
  return undefined;
}

type Jwk = JsonWebKey & { kid?: string; use?: string; alg?: string };

function importJwks(body: unknown): Map<string, PinnedKey> {
  const keys = new Map<string, PinnedKey>();
  const list = (body as { keys?: unknown })?.keys;
  if (!Array.isArray(list)) throw new Error('JWKS document has no keys array');
  for (const jwk of list.slice(0, 100) as Jwk[]) {
    if (!jwk || typeof jwk !== 'object' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
    // Private parts are never needed; a JWKS that carries them is not imported as a private key.
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
    let pinned: PinnedKey | undefined;
    try {
      pinned = pinKey(createPublicKey({ key: publicJwk, format: 'jwk' }));
    } catch {
      continue;
    }
    if (!pinned || (jwk.alg !== undefined && jwk.alg !== pinned.algorithm)) continue;
    keys.set(typeof jwk.kid === 'string' ? jwk.kid : '', pinned);
  }
  return keys;
}

/**
 * Creates a JWKS cache. Keys are fetched on first use and again when a token
 * names an unknown `kid` (key rotation), but never more often than
 * `minRefetchIntervalMs`, so forged `kid`s cannot make the server hammer the
 * authorization server. A failed fetch keeps the keys already known.
 *
 * @example const jwks = createJwksCache({ uri: 'https://auth.example.com/.well-known/jwks.json' });
 */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  const { uri, minRefetchIntervalMs = 30_000, timeoutMs = 3_000 } = options;
  const fetchImpl = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  let keys = new Map<string, PinnedKey>();
  let lastFetch = Number.NEGATIVE_INFINITY;
  let count = 0;
  let inFlight: Promise<void> | undefined;

  const refresh = (): Promise<void> => {
    inFlight ??= (async () => {
      lastFetch = now();
      count += 1;
      try {
        const response = await fetchImpl(uri, { signal: AbortSignal.timeout(timeoutMs), headers: { Accept: 'application/json' } });
        if (response.ok) keys = importJwks(await response.json());
      } catch {
        // Keep the keys already known; the token is judged against them.
      }
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const find = (kid: string | undefined): PinnedKey | undefined => {
    if (kid !== undefined) return keys.get(kid);
    // A token without kid is accepted only when the set holds a single key.
    return keys.size === 1 ? keys.values().next().value : undefined;
  };

  return {
    async getKey(kid) {
      const known = find(kid);
      if (known) return known;
      if (inFlight) await inFlight;
      else if (now() - lastFetch >= minRefetchIntervalMs) await refresh();
      return find(kid);
    },
    fetches: () => count,
  };
}
