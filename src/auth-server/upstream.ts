import * as oidc from 'openid-client';
import type { SafeFetchOptions } from './safe-fetch.js';
import { createSafeFetch } from './safe-fetch.js';

/** The identity the upstream provider vouched for: its ID token claims, plus userinfo when it has an endpoint. */
export type UpstreamClaims = Record<string, unknown> & { iss: string; sub: string };

/** What a sign-in needs to remember between the redirect and the callback. */
export interface UpstreamChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** Options of {@link createUpstreamClient}. */
export interface UpstreamClientOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  scopes: string;
  /** Our callback URL, registered at the upstream provider. */
  redirectUri: string;
  /** Outgoing request policy (the upstream may be private; loopback and http only for development). */
  fetch: SafeFetchOptions;
}

/** Signs a person in at the upstream OpenID Connect provider (authorization code, PKCE, nonce, state). */
export interface UpstreamClient {
  /** The URL to send the browser to, and the checks to keep for the callback. */
  start(): Promise<{ url: URL; checks: UpstreamChecks }>;
  /** Redeems the callback (`currentUrl` as the browser arrived) against the kept checks; throws on any mismatch. */
  finish(currentUrl: URL, checks: UpstreamChecks): Promise<UpstreamClaims>;
}

/**
 * The upstream provider as an OpenID Connect relying party, through
 * `openid-client` (OpenID certified): discovery of the issuer, an
 * authorization code with PKCE S256, `state` and `nonce`, ID token validation
 * (signature, `iss`, `aud`, `exp`, `nonce`) and RFC 9207 `iss` when offered.
 * Discovery happens on first use and is retried after a failure.
 *
 * @example const upstream = createUpstreamClient({ issuer: 'https://accounts.google.com', clientId, clientSecret, ... });
 */
export function createUpstreamClient(options: UpstreamClientOptions): UpstreamClient {
  const { issuer, clientId, clientSecret, scopes, redirectUri } = options;
  const fetchUpstream = createSafeFetch({ maxBytes: 512 * 1024, timeoutMs: 5000, ...options.fetch });
  let configuration: Promise<oidc.Configuration> | undefined;
  const configure = (): Promise<oidc.Configuration> => {
    configuration ??= oidc
      .discovery(new URL(issuer), clientId, { client_secret: clientSecret }, oidc.ClientSecretPost(clientSecret), {
        [oidc.customFetch]: fetchUpstream as oidc.CustomFetch,
        ...(issuer.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : {}),
      })
      .catch((error: unknown) => {
        configuration = undefined;
        throw error;
      });
    return configuration;
  };

  return {
    async start() {
      const config = await configure();
      const checks = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() };
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: scopes,
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
      });
      return { url, checks };
    },
    async finish(currentUrl, checks) {
      const config = await configure();
      const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new Error('the upstream provider returned no ID token');
      let userinfo: Record<string, unknown> = {};
      if (config.serverMetadata().userinfo_endpoint) {
        userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      }
      // The ID token's own claims win over userinfo's: they are signed.
      return { ...userinfo, ...claims } as UpstreamClaims;
    },
  };
}
