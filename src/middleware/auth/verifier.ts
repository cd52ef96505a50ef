import type { Request } from 'express';
import type { Principal } from '../../core/principal.js';

/** Where a credential came from. */
export type CredentialSource = 'authorization' | 'x-api-key';

/** A credential as presented: the raw secret and where it was found. */
export interface Credential {
  source: CredentialSource;
  value: string;
}

/**
 * One way of authenticating. `verify` returns the principal when the
 * credential belongs to this verifier and is valid, `undefined` when it is
 * not this verifier's kind of credential, and throws a `GuardError`
 * (`invalid_token`) when it is this verifier's but invalid, expired or
 * revoked. Any other throw denies the request (fail closed).
 */
export interface CredentialVerifier {
  /** Short name for logs and metrics, e.g. `static-token`. */
  readonly name: string;
  verify(credential: Credential, req: Request): Promise<Principal | undefined>;
}

/** Resolves a role name to its permissions; undefined for an unknown role. */
export type RoleResolver = (role: string) => readonly string[] | undefined;
