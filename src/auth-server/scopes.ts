import { Permission, type RoleMap } from '../core/permissions.js';

const DESCRIPTIONS: Record<string, string> = {
  [Permission.ToolsList]: 'see the list of tools',
  [Permission.ToolsCall]: 'call tools',
  [Permission.ResourcesList]: 'see the list of resources',
  [Permission.ResourcesRead]: 'read resources',
  [Permission.PromptsList]: 'see the list of prompts',
  [Permission.PromptsGet]: 'use prompts',
  [Permission.SubscriptionsListen]: 'receive change notifications',
  [Permission.KvRead]: 'read stored values',
  [Permission.KvWrite]: 'change stored values',
  [Permission.SessionsManage]: 'manage sessions',
  [Permission.KeysManage]: 'manage API keys',
  [Permission.AuditRead]: 'read the audit trail',
  [Permission.MetricsRead]: 'read server metrics',
};

/** What a scope lets a client do, in words for the consent page. */
export function describeScope(scope: string): string {
  return DESCRIPTIONS[scope] ?? 'a permission defined by this server';
}

/** The scopes a client may ask for when nothing narrower is configured: using MCP, nothing administrative. */
export const BASIC_SCOPES: readonly string[] = [
  Permission.ToolsList,
  Permission.ToolsCall,
  Permission.ResourcesList,
  Permission.ResourcesRead,
  Permission.PromptsList,
  Permission.PromptsGet,
  Permission.SubscriptionsListen,
];

/**
 * Every scope the resource offers: the known permissions plus every plain
 * permission a role names (custom permissions from `MCP_RBAC_FILE`). Wildcards
 * (`*`, `tools:*`) are never scopes: a token names each permission it carries.
 */
export function resourceScopes(roles: RoleMap): string[] {
  const scopes = new Set<string>(Object.values(Permission));
  for (const permissions of Object.values(roles))
    for (const permission of permissions) if (!permission.includes('*')) scopes.add(permission);
  return [...scopes].filter((scope) => /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/.test(scope)).sort();
}

/** The scopes of `requested` that a role grants (scopes are permissions; `*` and `prefix:*` apply). */
export function grantableScopes(requested: readonly string[], rolePermissions: readonly string[]): string[] {
  return requested.filter((scope) =>
    rolePermissions.some(
      (granted) => granted === '*' || granted === scope || (granted.endsWith(':*') && scope.startsWith(granted.slice(0, -1))),
    ),
  );
}
