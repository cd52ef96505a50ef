import { hasPermission } from '../core/permissions.js';
import { templatePattern, type PolicyDefaults } from '../middleware/authorize.js';
import type { UpstreamPolicy } from './file.js';

/**
 * An upstream's policy from the gateway file, compiled once: what each tool,
 * prompt and resource of the upstream requires, in the upstream's own names,
 * with the file's explicit default for names it does not list (`deny`: not
 * listed and not callable).
 */
export interface CompiledPolicy {
  /** The permission a tool requires; undefined when it is denied. */
  tool(name: string): string | undefined;
  prompt(name: string): string | undefined;
  /** The permission of a resource URI: listed exactly, matched by a listed template, else the default. */
  resource(uri: string): string | undefined;
  /** The permission of a resource template, by its template string. */
  template(uriTemplate: string): string | undefined;
  /** True when a principal holding `granted` may use something that requires `permission`. */
  allows(granted: readonly string[], permission: string | undefined): boolean;
  /** The maps and defaults for the security stack's authorization. */
  stackPolicy: {
    tools: Record<string, string>;
    prompts: Record<string, string>;
    resources: Record<string, string>;
    defaults: PolicyDefaults;
  };
}

const orDeny = (value: string): string | undefined => (value === 'deny' ? undefined : value);

/** Compiles an upstream's policy. */
export function compilePolicy(policy: UpstreamPolicy): CompiledPolicy {
  const tools = new Map(Object.entries(policy.tools));
  const prompts = new Map(Object.entries(policy.prompts));
  const resources = new Map(Object.entries(policy.resources));
  const templates = Object.entries(policy.resources)
    .filter(([uri]) => uri.includes('{'))
    .map(([uri, permission]) => ({ pattern: templatePattern(uri), permission }));
  const defaults = {
    tools: orDeny(policy.default.tools),
    prompts: orDeny(policy.default.prompts),
    resources: orDeny(policy.default.resources),
  };
  return {
    tool: (name) => tools.get(name) ?? defaults.tools,
    prompt: (name) => prompts.get(name) ?? defaults.prompts,
    resource(uri) {
      const exact = resources.get(uri);
      if (exact !== undefined && !uri.includes('{')) return exact;
      return templates.find((template) => template.pattern.test(uri))?.permission ?? defaults.resources;
    },
    template: (uriTemplate) => resources.get(uriTemplate) ?? defaults.resources,
    allows: (granted, permission) => permission !== undefined && hasPermission(granted, permission),
    stackPolicy: {
      tools: policy.tools,
      prompts: policy.prompts,
      resources: policy.resources,
      defaults: {
        ...(defaults.tools ? { tools: defaults.tools } : {}),
        ...(defaults.prompts ? { prompts: defaults.prompts } : {}),
        ...(defaults.resources ? { resources: defaults.resources } : {}),
      },
    },
  };
}
