import supertest from 'supertest';
import { ErrorCode } from '../../src/errors/codes.js';
import { GuardError } from '../../src/errors/guard-error.js';
import { bearerChallenge, jsonRpcError, quoteParam } from '../../src/errors/respond.js';
import { createErrorHandler } from '../../src/middleware/error-handler.js';
import { startTestServer, TEST_TOKEN } from '../helpers/server.js';

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

describe('a 5xx answer', () => {
  // What an unexpected failure might carry: a path, a line number, a secret, a stack.
  const INTERNALS = 'connect ECONNREFUSED /srv/mcp-guard/src/secret-store.ts:42 password=hunter2-internal';
  const leaks = (body: string) => [/secret-store/, /hunter2/, /ECONNREFUSED/, /\bat .+:\d+/, /\.ts:\d+/].filter((p) => p.test(body));

  async function appFailingWith(format: 'json' | 'json-rpc') {
    const { default: express } = await import('express');
    const app = express();
    app.use(express.json());
    app.post('/fail', () => {
      throw new Error(INTERNALS);
    });
    app.use(createErrorHandler({ format }));
    return app;
  }

  it('carries the stable code and a generic message only, never the error, as JSON', async () => {
    const response = await supertest(await appFailingWith('json'))
      .post('/fail')
      .send({});
    expect(response.status).toBe(500);
    expect(response.body).toEqual({ error: { code: 'internal_error', message: 'Internal server error' } });
    expect(leaks(response.text)).toEqual([]);
  });

  it('carries the stable code and a generic message only, never the error, in the JSON-RPC envelope', async () => {
    const response = await supertest(await appFailingWith('json-rpc'))
      .post('/fail')
      .send({ jsonrpc: '2.0', id: 7, method: 'tools/call' });
    expect(response.status).toBe(500);
    expect(response.body).toEqual({
      jsonrpc: '2.0',
      id: 7,
      error: { code: -32603, message: 'Internal server error', data: { code: 'internal_error' } },
    });
    expect(leaks(response.text)).toEqual([]);
  });

  it('from the reference server, when a route fails unexpectedly, carries no internals either', async () => {
    const server = await startTestServer();
    try {
      // Make the metrics registry fail the way a broken collector would.
      server.running.guard.metrics.registry.metrics = () => Promise.reject(new Error(INTERNALS));
      const response = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } });
      const body = await response.text();
      expect(response.status).toBe(500);
      expect(JSON.parse(body)).toEqual({ error: { code: 'internal_error', message: 'Internal server error' } });
      expect(leaks(body)).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
