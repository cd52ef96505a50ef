import { ErrorCode } from '../../src/errors/codes.js';
import { GuardError } from '../../src/errors/guard-error.js';
import { bearerChallenge, jsonRpcError, quoteParam } from '../../src/errors/respond.js';

describe('bearerChallenge', () => {
  it('carries no error code when no credential was sent (RFC 6750 section 3.1)', () => {
    const error = new GuardError(ErrorCode.Unauthenticated, 'Authentication required');
    expect(bearerChallenge(error, { resource_metadata: 'https://x/.well-known/oauth-protected-resource' })).toBe(
      'Bearer resource_metadata="https://x/.well-known/oauth-protected-resource"',
    );
    expect(bearerChallenge(error)).toBe('Bearer');
  });

  it('names invalid_token when a credential was presented', () => {
    const error = new GuardError(ErrorCode.InvalidToken, 'The access token is invalid');
    expect(bearerChallenge(error)).toBe('Bearer error="invalid_token", error_description="The access token is invalid"');
  });

  it('names the missing scope on insufficient_scope', () => {
    const error = new GuardError(ErrorCode.InsufficientScope, 'Permission kv:write is required', { scope: 'kv:write' });
    expect(bearerChallenge(error)).toContain('error="insufficient_scope"');
    expect(bearerChallenge(error)).toContain('scope="kv:write"');
  });
});

describe('quoteParam', () => {
  it('escapes quotes and backslashes and drops control characters', () => {
    expect(quoteParam('a"b\\c\r\nd')).toBe('"a\\"b\\\\cd"');
  });
});

describe('jsonRpcError', () => {
  it('wraps the stable code and retry delay in the JSON-RPC envelope', () => {
    const error = new GuardError(ErrorCode.RateLimited, 'Too many requests', { retryAfter: 7 });
    expect(jsonRpcError(error, 4)).toEqual({
      jsonrpc: '2.0',
      id: 4,
      error: { code: -32029, message: 'Too many requests', data: { code: 'rate_limited', retryAfter: 7 } },
    });
  });
});
