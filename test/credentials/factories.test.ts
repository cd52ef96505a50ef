import { createJwksCache } from '../../src/credentials/jwks.js';
import { createJwtValidator } from '../../src/credentials/jwt.js';
import { createLockout } from '../../src/credentials/lockout.js';
import { createTokenService } from '../../src/credentials/token-service.js';
import { createJwtVerifier } from '../../src/middleware/auth/jwt.js';
import { createProtectedResourceMetadata } from '../../src/routes/protected-resource-metadata.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { ErrorCode } from '../../src/errors/codes.js';
import { GuardError } from '../../src/errors/guard-error.js';

describe('credential factories', () => {
  const store = createMemoryStore();
  afterAll(() => store.shutdown());

  it('refuse unknown option keys at creation', () => {
    expect(() => createLockout({ store, maxAttemps: 3 } as never)).toThrow(/createLockout: invalid options/);
    expect(() => createJwtValidator({ secret: 'x'.repeat(32), audiance: 'a' } as never)).toThrow(/createJwtValidator/);
    expect(() => createProtectedResourceMetadata({ scope: [] } as never)).toThrow(/createProtectedResourceMetadata/);
  });

  it('refuse malformed options at creation', () => {
    expect(() => createJwtValidator({})).toThrow(/secret, publicKey or jwks/);
    expect(() => createJwtValidator({ secret: 'x'.repeat(32), clockSkewSec: 3600 })).toThrow(/clockSkewSec/);
    expect(() => createLockout({ store, maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => createProtectedResourceMetadata({ authorizationServers: ['ftp://auth'] })).toThrow(/authorizationServers/);
    expect(() => createJwtVerifier({ validate: 'no' } as never)).toThrow(/validate/);
    expect(() => createTokenService({ secret: 'short' } as never)).toThrow(/createTokenService/);
  });

  it('do not change the options they are given', () => {
    const options = { secret: 'x'.repeat(32), audience: ['a', 'b'], claims: { role: 'r' } };
    const copy = structuredClone(options);
    createJwtValidator(options);
    expect(options).toEqual(copy);
    const prm = { authorizationServers: ['https://auth.test'], scopes: ['tools:call'] };
    createProtectedResourceMetadata(prm);
    expect(prm).toEqual({ authorizationServers: ['https://auth.test'], scopes: ['tools:call'] });
  });

  it('name the configured scopes in a 401 challenge', () => {
    const prm = createProtectedResourceMetadata({ publicUrl: 'https://mcp.test', scopes: ['tools:list', 'tools:call'] });
    const challenge = prm.challenge({} as never, new GuardError(ErrorCode.Unauthenticated, 'Authentication required'));
    expect(challenge).toBe(
      'Bearer scope="tools:list tools:call", resource_metadata="https://mcp.test/.well-known/oauth-protected-resource/mcp"',
    );
  });

  it('create a JWKS cache without fetching anything', () => {
    let calls = 0;
    const jwks = createJwksCache({
      uri: 'https://auth.test/jwks',
      fetch: (async () => {
        calls += 1;
        throw new Error('offline');
      }) as typeof fetch,
    });
    expect(jwks.fetches()).toBe(0);
    expect(calls).toBe(0);
  });
});
