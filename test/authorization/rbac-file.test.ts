import { loadConfig } from '../../src/config/load.js';
import { parseRbacFile } from '../../src/config/rbac.js';
import { effectivePolicy } from '../../src/app.js';
import { hasPermission } from '../../src/core/permissions.js';

const TOKEN = 'rbac-test-token-0123456789abcdef0123456789';

function configWith(file: unknown, env: Record<string, string> = {}) {
  return loadConfig({ MCP_AUTH_TOKEN: TOKEN, MCP_RBAC_FILE: '/etc/mcp-guard/rbac.json', ...env }, () =>
    typeof file === 'string' ? file : JSON.stringify(file),
  );
}

describe('the RBAC file', () => {
  it('adds custom roles, with inheritance, next to the built-in ones', () => {
    const config = configWith({
      permissions: ['reports:read'],
      roles: { auditor: ['audit:read', 'reports:read'], support: { inherits: ['viewer'], permissions: ['kv:write'] } },
    });
    expect(config.rbac.roles.auditor).toEqual(['audit:read', 'reports:read']);
    expect(hasPermission(config.rbac.roles.support!, 'kv:write')).toBe(true);
    expect(hasPermission(config.rbac.roles.support!, 'kv:read')).toBe(true);
    expect(config.rbac.roles.admin).toEqual(['*']);
  });

  it('stops start-up on an unknown permission, an unknown inherited role and a cycle, listing all of them', () => {
    let message = '';
    try {
      configWith({ roles: { a: ['kv:reed'], b: { inherits: ['nobody'] }, c: { inherits: ['d'] }, d: { inherits: ['c'] } } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('roles.a: unknown permission "kv:reed"');
    expect(message).toContain('inherits unknown role "nobody"');
    expect(message).toContain('inheritance cycle');
  });

  it('stops start-up when a credential names a role that does not exist', () => {
    expect(() => configWith({}, { MCP_AUTH_TOKEN_ROLE: 'superuser' })).toThrow(/MCP_AUTH_TOKEN_ROLE: unknown role "superuser"/);
  });

  it('accepts a role defined in the file for a credential', () => {
    const config = configWith({ roles: { robot: ['tools:list', 'tools:call'] } }, { MCP_AUTH_TOKEN_ROLE: 'robot' });
    expect(config.auth.tokenRole).toBe('robot');
  });

  it('reports a file that is not JSON or has unknown fields, without echoing its contents', () => {
    expect(() => configWith('{ "roles": ')).toThrow(/MCP_RBAC_FILE: not valid JSON/);
    expect(() => configWith({ rolez: {} })).toThrow(/MCP_RBAC_FILE/);
  });

  it('reports a file that cannot be read', () => {
    expect(() =>
      loadConfig({ MCP_AUTH_TOKEN: TOKEN, MCP_RBAC_FILE: '/nope' }, () => {
        throw new Error('ENOENT');
      }),
    ).toThrow(/MCP_RBAC_FILE: cannot read/);
  });

  it('overrides the permission of an existing tool and refuses an override of a missing one', () => {
    const rbac = parseRbacFile(JSON.stringify({ permissions: ['kv:admin'], tools: { kv_set: 'kv:admin' } }), [])!;
    const policy = effectivePolicy({ tools: { kv_set: 'kv:write', echo: 'tools:call' }, prompts: {}, resources: {} }, rbac);
    expect(policy.tools).toEqual({ kv_set: 'kv:admin', echo: 'tools:call' });
    const typo = parseRbacFile(JSON.stringify({ tools: { kv_sett: 'kv:write' } }), [])!;
    expect(() => effectivePolicy({ tools: { kv_set: 'kv:write' }, prompts: {}, resources: {} }, typo)).toThrow(/tools.kv_sett/);
  });
});
