import type { AuthInfo } from '@modelcontextprotocol/server';

/** How a principal proved who it is. */
export type AuthMethod = 'bearer' | 'api-key' | 'jwt' | 'session-token';

/**
 * Who is making a request, as every verifier reports it. The same shape comes
 * out of a static token, an API key, a JWT or a development session token.
 */
export interface Principal {
  /** Stable, non-secret identifier, e.g. `token:static`, `key:ci`, `jwt:alice`. */
  id: string;
  role: string;
  /** Permissions granted, after resolving the role. */
  permissions: readonly string[];
  tenant?: string;
  authMethod: AuthMethod;
  /** Identifier of the credential (key id, token id), for revocation. Never the secret. */
  credentialId?: string;
  /** Expiry of the credential, in seconds since the epoch. */
  expiresAt?: number;
  /** Client IPs the credential may be used from (CIDR list); empty or absent means any. */
  allowedCidrs?: readonly string[];
}

/** The principal stored in `AuthInfo.extra` under this key. */
export const PRINCIPAL_KEY = 'principal';

/**
 * The SDK's `AuthInfo` for a principal, handed to tool handlers as `extra.authInfo`.
 * `token` holds the credential id rather than the secret: tools must not pass
 * tokens on (MCP forbids token passthrough), so they never see one.
 */
export function toAuthInfo(principal: Principal): AuthInfo {
  return {
    token: principal.credentialId ?? principal.id,
    clientId: principal.id,
    scopes: [...principal.permissions],
    ...(principal.expiresAt !== undefined ? { expiresAt: principal.expiresAt } : {}),
    extra: {
      [PRINCIPAL_KEY]: principal,
      role: principal.role,
      authMethod: principal.authMethod,
      ...(principal.tenant !== undefined ? { tenant: principal.tenant } : {}),
    },
  };
}

/** The principal inside an `AuthInfo`, if mcp-guard put one there. */
export function principalOf(authInfo: AuthInfo | undefined): Principal | undefined {
  const value = authInfo?.extra?.[PRINCIPAL_KEY];
  return value && typeof value === 'object' ? (value as Principal) : undefined;
}
