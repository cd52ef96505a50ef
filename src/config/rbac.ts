import { z } from 'zod';
import { BUILT_IN_ROLES, Permission, type RoleMap } from '../core/permissions.js';

const PERMISSION_NAME = /^[a-z][a-z0-9_-]*:[a-z0-9_-]+$/;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

const roleSchema = z.union([
  z.array(z.string()),
  z.strictObject({ permissions: z.array(z.string()).default([]), inherits: z.array(z.string()).default([]) }),
]);

/** The shape of `MCP_RBAC_FILE` (JSON). */
export const rbacFileSchema = z.strictObject({
  /** Extra permission names the roles and tools below may use (for example `reports:read`). */
  permissions: z.array(z.string().regex(PERMISSION_NAME, 'must look like area:action')).default([]),
  /** Custom roles (or built-in ones redefined): a permission list, or `{ permissions, inherits }`. */
  roles: z.record(z.string().regex(NAME, 'role names use letters, digits, . _ -'), roleSchema).default({}),
  /** Tool name to the permission it requires, overriding the toolset's own. */
  tools: z.record(z.string(), z.string()).default({}),
  /** Prompt name to permission, overriding the toolset's own. */
  prompts: z.record(z.string(), z.string()).default({}),
  /** Resource URI or URI template to permission, overriding the toolset's own. */
  resources: z.record(z.string(), z.string()).default({}),
});

/** Roles and permission overrides, resolved from the built-ins and `MCP_RBAC_FILE`. */
export interface RbacPolicy {
  roles: RoleMap;
  tools: Record<string, string>;
  prompts: Record<string, string>;
  resources: Record<string, string>;
}

/** The built-in roles and no overrides: the policy without `MCP_RBAC_FILE`. */
export function defaultRbac(): RbacPolicy {
  return { roles: BUILT_IN_ROLES, tools: {}, prompts: {}, resources: {} };
}

/**
 * Parses and checks the contents of an RBAC file, pushing each problem (with
 * its JSON path) to `problems`: unknown permissions, unknown or circular
 * inherited roles. Returns the resolved policy (built-in roles merged with the
 * file's), or undefined when the file is unusable.
 */
export function parseRbacFile(text: string, problems: string[]): RbacPolicy | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push('MCP_RBAC_FILE: not valid JSON');
    return undefined;
  }
  const parsed = rbacFileSchema.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`MCP_RBAC_FILE: ${issue.path.join('.') || '(file)'}: ${issue.message}`);
    return undefined;
  }
  const file = parsed.data;
  const known = new Set<string>([
    ...Object.values(Permission),
    ...file.permissions,
    ...Object.values(file.tools),
    ...Object.values(file.prompts),
    ...Object.values(file.resources),
  ]);
  const prefixes = new Set([...known].map((permission) => permission.split(':')[0]!));
  const isKnown = (permission: string) =>
    permission === '*' || known.has(permission) || (permission.endsWith(':*') && prefixes.has(permission.slice(0, -2)));

  for (const [group, map] of [
    ['tools', file.tools],
    ['prompts', file.prompts],
    ['resources', file.resources],
  ] as const) {
    for (const [name, permission] of Object.entries(map)) {
      if (!PERMISSION_NAME.test(permission)) problems.push(`MCP_RBAC_FILE: ${group}.${name}: "${permission}" must look like area:action`);
    }
  }

  const definitions = new Map<string, { permissions: string[]; inherits: string[] }>();
  for (const [name, role] of Object.entries(file.roles)) {
    definitions.set(name, Array.isArray(role) ? { permissions: role, inherits: [] } : role);
    for (const permission of definitions.get(name)!.permissions) {
      if (!isKnown(permission)) problems.push(`MCP_RBAC_FILE: roles.${name}: unknown permission "${permission}"`);
    }
  }

  const resolved: Record<string, readonly string[]> = { ...BUILT_IN_ROLES };
  const resolving = new Set<string>();
  const resolve = (name: string, path: string): readonly string[] | undefined => {
    const definition = definitions.get(name);
    if (!definition) return resolved[name];
    if (resolving.has(name)) {
      problems.push(`MCP_RBAC_FILE: roles.${path}: inheritance cycle through "${name}"`);
      return [];
    }
    resolving.add(name);
    const permissions = new Set(definition.permissions);
    for (const parent of definition.inherits) {
      const inherited = parent === name ? BUILT_IN_ROLES[name] : resolve(parent, `${path}.inherits`);
      if (!inherited) problems.push(`MCP_RBAC_FILE: roles.${name}: inherits unknown role "${parent}"`);
      for (const permission of inherited ?? []) permissions.add(permission);
    }
    resolving.delete(name);
    return [...permissions];
  };
  for (const name of definitions.keys()) resolved[name] = resolve(name, name) ?? [];

  return { roles: Object.freeze(resolved), tools: file.tools, prompts: file.prompts, resources: file.resources };
}
