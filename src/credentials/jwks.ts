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
  /**
   * Longest time a fetched key is trusted without a successful refetch. Past half of it, the next
   * lookup refetches in the background; past all of it the keys are dropped and the lookup waits
   * for a fetch (a key removed from the JWKS, for example a revoked one, stops working within this
   * time). Default 600,000 ms (10 minutes); at least `minRefetchIntervalMs`.
   */
  maxAgeMs?: number;
  /** Largest JWKS response read, in bytes; a larger one is abandoned unread and the fetch fails. Default 262,144 (256 KiB). */
  maxBytes?: number;
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

/** Reads at most `maxBytes` of a response body; throws (and cancels the body) beyond it. */
async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes || !response.body) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error('JWKS response too large');
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error('JWKS response too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
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
 * authorization server. A failed fetch keeps the keys already known, but no key
 * is trusted longer than `maxAgeMs` after the last successful fetch, and no
 * response larger than `maxBytes` is read.
 *
 * @example const jwks = createJwksCache({ uri: 'https://auth.example.com/.well-known/jwks.json' });
 */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  const { uri, minRefetchIntervalMs = 30_000, timeoutMs = 3_000, maxAgeMs = 600_000, maxBytes = 256 * 1024 } = options;
  if (!(maxAgeMs >= minRefetchIntervalMs)) throw new TypeError('createJwksCache: maxAgeMs must be at least minRefetchIntervalMs');
  if (!(Number.isInteger(maxBytes) && maxBytes >= 1024))
    throw new TypeError('createJwksCache: maxBytes must be an integer of at least 1024');
  const fetchImpl = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  let keys = new Map<string, PinnedKey>();
  // Time of the last successful fetch: the age of the keys.
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let lastFetch = Number.NEGATIVE_INFINITY;
  let count = 0;
  let inFlight: Promise<void> | undefined;

  const refresh = (): Promise<void> => {
    inFlight ??= (async () => {
      lastFetch = now();
      count += 1;
      try {
        const response = await fetchImpl(uri, {
          signal: AbortSignal.timeout(timeoutMs),
          headers: { Accept: 'application/json' },
          redirect: 'error',
        });
        if (!response.ok) {
          await response.body?.cancel().catch(() => undefined);
          return;
        }
        keys = importJwks(JSON.parse(await readCapped(response, maxBytes)));
        fetchedAt = now();
      } catch {
        // Keep the keys already known (until they are maxAgeMs old); the token is judged against them.
      }
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  const mayFetch = (): boolean => now() - lastFetch >= minRefetchIntervalMs;

  const find = (kid: string | undefined): PinnedKey | undefined => {
    if (now() - fetchedAt >= maxAgeMs) keys = new Map();
    if (kid !== undefined) return keys.get(kid);
    // A token without kid is accepted only when the set holds a single key.
    return keys.size === 1 ? keys.values().next().value : undefined;
  };

  return {
    async getKey(kid) {
      // Past half their age the keys are refreshed in the background; past all of it they are gone.
      if (now() - fetchedAt >= maxAgeMs / 2 && !inFlight && mayFetch()) {
        if (now() - fetchedAt >= maxAgeMs) await refresh();
        else void refresh();
      }
      const known = find(kid);
      if (known) return known;
      if (inFlight) await inFlight;
      else if (mayFetch()) await refresh();
      return find(kid);
    },
    fetches: () => count,
  };
}
