import { compilePolicy, MCP_USE_PERMISSIONS, refusalOf, requirementOf, templatePattern } from '../../src/middleware/authorize.js';

const policy = compilePolicy(
  { echo: 'tools:call', kv_set: 'kv:write' },
  { summarize: 'prompts:get' },
  { 'test://static-text': 'resources:read', 'test://template/{id}/data': 'reports:read' },
);

describe('the permission a JSON-RPC message needs', () => {
  it('is the tool’s own permission for tools/call, and a denial for an undeclared tool', () => {
    expect(requirementOf({ method: 'tools/call', params: { name: 'kv_set' } }, policy)).toEqual({
      kind: 'all',
      permissions: ['kv:write'],
      tool: 'kv_set',
    });
    expect(requirementOf({ method: 'tools/call', params: { name: 'nope' } }, policy)).toEqual({ kind: 'undeclared', tool: 'nope' });
    expect(requirementOf({ method: 'tools/call', params: {} }, policy)).toEqual({ kind: 'undeclared' });
  });

  it('matches resources by exact URI or by template, one segment per variable', () => {
    expect(requirementOf({ method: 'resources/read', params: { uri: 'test://static-text' } }, policy)).toEqual({
      kind: 'all',
      permissions: ['resources:read'],
    });
    expect(requirementOf({ method: 'resources/read', params: { uri: 'test://template/42/data' } }, policy)).toEqual({
      kind: 'all',
      permissions: ['reports:read'],
    });
    expect(requirementOf({ method: 'resources/read', params: { uri: 'test://template/4/2/data' } }, policy)).toEqual({
      kind: 'unknown_resource',
      uri: 'test://template/4/2/data',
    });
    expect(requirementOf({ method: 'resources/subscribe', params: { uri: 'file:///etc/passwd' } }, policy)).toEqual({ kind: 'undeclared' });
  });

  it('denies an undeclared prompt and checks completions against what they complete', () => {
    expect(requirementOf({ method: 'prompts/get', params: { name: 'summarize' } }, policy)).toEqual({
      kind: 'all',
      permissions: ['prompts:get'],
    });
    expect(requirementOf({ method: 'prompts/get', params: { name: 'other' } }, policy)).toEqual({ kind: 'undeclared' });
    expect(
      requirementOf({ method: 'completion/complete', params: { ref: { type: 'ref/resource', uri: 'test://template/{id}/data' } } }, policy),
    ).toEqual({ kind: 'all', permissions: ['reports:read'] });
  });

  it('needs nothing for ping, notifications and responses, some MCP permission to initialize, and denies unknown methods', () => {
    for (const message of [{ method: 'ping' }, { method: 'notifications/initialized' }, { id: 1, result: {} }]) {
      expect(requirementOf(message, policy)).toEqual({ kind: 'none' });
    }
    expect(requirementOf({ method: 'initialize' }, policy)).toEqual({ kind: 'any', permissions: [...MCP_USE_PERMISSIONS] });
    expect(requirementOf({ method: 'admin/shutdown' }, policy)).toEqual({ kind: 'undeclared' });
  });

  it('finds no method the 2026-07-28 revision removed, and opens server/discover to any MCP permission', () => {
    for (const method of ['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe', 'admin/shutdown']) {
      expect({ method, requirement: requirementOf({ method, params: { uri: 'test://static-text' } }, policy, 'modern') }).toEqual({
        method,
        requirement: { kind: 'not_found' },
      });
    }
    expect(requirementOf({ method: 'server/discover' }, policy, 'modern')).toEqual({ kind: 'any', permissions: [...MCP_USE_PERMISSIONS] });
    expect(requirementOf({ method: 'tools/call', params: { name: 'kv_set' } }, policy, 'modern')).toEqual({
      kind: 'all',
      permissions: ['kv:write'],
      tool: 'kv_set',
    });
  });

  it('asks of a subscriptions/listen stream the permission to see each kind of notification it wants', () => {
    const listen = (notifications: unknown) =>
      requirementOf({ method: 'subscriptions/listen', params: { notifications } }, policy, 'modern');
    expect(listen({})).toEqual({ kind: 'all', permissions: ['subscriptions:listen'] });
    expect(listen({ toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true })).toEqual({
      kind: 'all',
      permissions: ['subscriptions:listen', 'tools:list', 'prompts:list', 'resources:list'],
    });
    expect(listen({ resourceSubscriptions: ['test://template/7/data'] })).toEqual({
      kind: 'all',
      permissions: ['subscriptions:listen', 'reports:read'],
    });
    expect(listen({ resourceSubscriptions: ['file:///etc/passwd'] })).toEqual({ kind: 'undeclared' });
  });

  it('refuses with the missing permissions, 404 for a removed method, and passes what is granted', () => {
    expect(refusalOf({ kind: 'all', permissions: ['a', 'b'] }, ['a'])?.details.scope).toBe('b');
    expect(refusalOf({ kind: 'all', permissions: ['x:a', 'b'] }, ['x:*', 'b'])).toBeUndefined();
    expect(refusalOf({ kind: 'any', permissions: ['a', 'b'] }, ['b'])).toBeUndefined();
    expect(refusalOf({ kind: 'any', permissions: ['a', 'b'] }, ['c'])?.status).toBe(403);
    expect(refusalOf({ kind: 'not_found' }, ['*'])?.status).toBe(404);
    expect(refusalOf({ kind: 'undeclared' }, ['*'])?.status).toBe(403);
    const notFound = refusalOf({ kind: 'unknown_resource', uri: 'test://nope' }, ['*']);
    expect([notFound?.status, notFound?.message, notFound?.details.data]).toEqual([400, 'Resource not found', { uri: 'test://nope' }]);
  });

  it('escapes regular-expression characters of a template', () => {
    expect(templatePattern('a.b://{x}').test('aXb://1')).toBe(false);
    expect(templatePattern('a.b://{x}').test('a.b://1')).toBe(true);
  });
});
