import { compilePolicy, requirementOf, templatePattern } from '../../src/middleware/authorize.js';

const policy = compilePolicy(
  { echo: 'tools:call', kv_set: 'kv:write' },
  { summarize: 'prompts:get' },
  { 'test://static-text': 'resources:read', 'test://template/{id}/data': 'reports:read' },
);

describe('the permission a JSON-RPC message needs', () => {
  it('is the tool’s own permission for tools/call, and a denial for an undeclared tool', () => {
    expect(requirementOf({ method: 'tools/call', params: { name: 'kv_set' } }, policy)).toEqual({ permission: 'kv:write', tool: 'kv_set' });
    expect(requirementOf({ method: 'tools/call', params: { name: 'nope' } }, policy)).toEqual({ undeclared: true, tool: 'nope' });
    expect(requirementOf({ method: 'tools/call', params: {} }, policy)).toEqual({ undeclared: true });
  });

  it('matches resources by exact URI or by template, one segment per variable', () => {
    expect(requirementOf({ method: 'resources/read', params: { uri: 'test://static-text' } }, policy)).toEqual({
      permission: 'resources:read',
    });
    expect(requirementOf({ method: 'resources/read', params: { uri: 'test://template/42/data' } }, policy)).toEqual({
      permission: 'reports:read',
    });
    expect(requirementOf({ method: 'resources/read', params: { uri: 'test://template/4/2/data' } }, policy)).toEqual({ undeclared: true });
    expect(requirementOf({ method: 'resources/subscribe', params: { uri: 'file:///etc/passwd' } }, policy)).toEqual({ undeclared: true });
  });

  it('denies an undeclared prompt and checks completions against what they complete', () => {
    expect(requirementOf({ method: 'prompts/get', params: { name: 'summarize' } }, policy)).toEqual({ permission: 'prompts:get' });
    expect(requirementOf({ method: 'prompts/get', params: { name: 'other' } }, policy)).toEqual({ undeclared: true });
    expect(
      requirementOf({ method: 'completion/complete', params: { ref: { type: 'ref/resource', uri: 'test://template/{id}/data' } } }, policy),
    ).toEqual({ permission: 'reports:read' });
  });

  it('needs nothing for initialize, ping, notifications and responses, and denies unknown methods', () => {
    for (const message of [{ method: 'initialize' }, { method: 'ping' }, { method: 'notifications/initialized' }, { id: 1, result: {} }]) {
      expect(requirementOf(message, policy)).toEqual({ permission: null });
    }
    expect(requirementOf({ method: 'admin/shutdown' }, policy)).toEqual({ undeclared: true });
  });

  it('escapes regular-expression characters of a template', () => {
    expect(templatePattern('a.b://{x}').test('aXb://1')).toBe(false);
    expect(templatePattern('a.b://{x}').test('a.b://1')).toBe(true);
  });
});
