/**
 * Permissions known to mcp-guard. A role grants a list of them; `*` grants all,
 * and `prefix:*` grants every permission starting with `prefix:`.
 */
export const Permission = {
  ToolsList: 'tools:list',
  ToolsCall: 'tools:call',
  ResourcesList: 'resources:list',
  ResourcesRead: 'resources:read',
  PromptsList: 'prompts:list',
  PromptsGet: 'prompts:get',
  /** Open a 2026-07-28 `subscriptions/listen` stream (what it may announce needs the matching list or read permission too). */
  SubscriptionsListen: 'subscriptions:listen',
  KvRead: 'kv:read',
  KvWrite: 'kv:write',
  SessionsManage: 'sessions:manage',
  KeysManage: 'keys:manage',
  AuditRead: 'audit:read',
  MetricsRead: 'metrics:read',
} as const;

export type Permission = (typeof Permission)[keyof typeof Permission];

/** Role name to granted permissions. */
export type RoleMap = Readonly<Record<string, readonly string[]>>;

/**
 * Built-in roles. `admin` may do everything; `operator` uses every tool but
 * the administrative ones; `viewer` may only read; `monitor` reads metrics
 * and the audit trail and sees no MCP tools.
 */
export const BUILT_IN_ROLES: RoleMap = {
  admin: ['*'],
  operator: [
    Permission.ToolsList,
    Permission.ToolsCall,
    Permission.KvRead,
    Permission.KvWrite,
    Permission.ResourcesList,
    Permission.ResourcesRead,
    Permission.PromptsList,
    Permission.PromptsGet,
    Permission.SubscriptionsListen,
    Permission.MetricsRead,
  ],
  viewer: [
    Permission.ToolsList,
    Permission.ToolsCall,
    Permission.KvRead,
    Permission.ResourcesList,
    Permission.ResourcesRead,
    Permission.PromptsList,
    Permission.PromptsGet,
    Permission.SubscriptionsListen,
  ],
  monitor: [Permission.MetricsRead, Permission.AuditRead],
};

/** True when `granted` includes `required` directly, through `*`, or through `prefix:*`. */
export function hasPermission(granted: readonly string[], required: string): boolean {
  for (const permission of granted) {
    if (permission === required || permission === '*') return true;
    if (permission.endsWith(':*') && required.startsWith(permission.slice(0, -1))) return true;
  }
  return false;
}
