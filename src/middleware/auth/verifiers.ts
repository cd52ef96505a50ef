import type { SessionTokenStore } from '../../stores/session-tokens.js';
import { createSessionTokenVerifier } from './session-token.js';
import { createStaticApiKeyVerifier } from './static-api-keys.js';
import { createStaticTokenVerifier } from './static-token.js';
import type { CredentialVerifier, RoleResolver } from './verifier.js';

/** Where credentials come from: each set field adds its verifier. */
export interface CredentialSources {
  /** Static bearer token (at least 32 characters). */
  token?: string | undefined;
  /** Role of the static token. Default `admin`. */
  tokenRole?: string | undefined;
  /** Static API keys, accepted in `X-API-Key` or as bearer tokens. */
  apiKeys?: ReadonlyArray<{ name: string; role: string; secret: string; tenant?: string; allowedCidrs?: string[] }> | undefined;
  /** Store of development session tokens; set to accept them. */
  sessionTokens?: SessionTokenStore | undefined;
  /** More verifiers (API key store, JWT, the authorization server's tokens), tried after the ones above. */
  verifiers?: readonly CredentialVerifier[] | undefined;
}

/**
 * The one list of credential verifiers, in the order they are tried: static
 * token, static API keys, development session tokens, then the others. A new
 * kind of credential is a verifier module and one line here.
 */
export function credentialVerifiers(sources: CredentialSources, resolveRole: RoleResolver): CredentialVerifier[] {
  const verifiers: CredentialVerifier[] = [];
  if (sources.token) verifiers.push(createStaticTokenVerifier({ token: sources.token, role: sources.tokenRole ?? 'admin', resolveRole }));
  if (sources.apiKeys?.length) verifiers.push(createStaticApiKeyVerifier({ keys: [...sources.apiKeys], resolveRole }));
  if (sources.sessionTokens) verifiers.push(createSessionTokenVerifier({ store: sources.sessionTokens, resolveRole }));
  verifiers.push(...(sources.verifiers ?? []));
  return verifiers;
}
