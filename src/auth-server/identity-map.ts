import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { UpstreamClaims } from './upstream.js';

const text = z.string().min(1).max(256);
const matchSchema = z.strictObject({
  /** The upstream subject, exactly. */
  sub: text.optional(),
  /** The e-mail address (case-insensitive); only a verified one (`email_verified: true`) matches. */
  email: text.optional(),
  /** The domain of a verified e-mail address. */
  email_domain: text.optional(),
  /** Any one of these groups in the groups claim. */
  groups: z.array(text).min(1).max(100).optional(),
  /** Claims that must equal these values (or, for an array claim, contain them). */
  claims: z.record(text, z.union([text, z.number(), z.boolean()])).optional(),
});
const ruleSchema = z.strictObject({
  match: matchSchema,
  role: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  /** A fixed tenant, or the claim the tenant is read from. */
  tenant: z.union([z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.strictObject({ claim: text })]).optional(),
});
const fileSchema = z.strictObject({
  /** The claim holding the groups. Default `groups`. */
  groups_claim: text.optional(),
  rules: z.array(ruleSchema).min(1).max(1000),
});

/** The identity mapping file: rules tried in order; the first that matches decides. */
export type IdentityMap = z.output<typeof fileSchema>;

/** The role and tenant a person gets here, and why (the rule's index, for the audit log). */
export type Mapped =
  { ok: true; role: string; tenant?: string; rule: number } | { ok: false; reason: 'no_rule_matched' | 'bad_tenant_claim' };

/**
 * Parses the identity mapping (the file named by `MCP_AUTH_SERVER_IDENTITY_FILE`).
 * Every role must exist (`knownRole`); problems are pushed, never thrown, so they
 * join the configuration's other problems.
 */
export function parseIdentityMap(source: string, knownRole: (role: string) => boolean, problems: string[]): IdentityMap | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(source);
  } catch {
    problems.push('MCP_AUTH_SERVER_IDENTITY_FILE: not JSON');
    return undefined;
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`MCP_AUTH_SERVER_IDENTITY_FILE: ${issue.path.join('.')}: ${issue.message}`);
    return undefined;
  }
  parsed.data.rules.forEach((rule, index) => {
    if (Object.keys(rule.match).length === 0)
      problems.push(`MCP_AUTH_SERVER_IDENTITY_FILE: rules.${index}.match: name at least one condition`);
    if (!knownRole(rule.role)) problems.push(`MCP_AUTH_SERVER_IDENTITY_FILE: rules.${index}.role: unknown role "${rule.role}"`);
  });
  return parsed.data;
}

/** Reads and parses the identity mapping file; throws one error listing every problem. */
export function readIdentityMap(path: string, knownRole: (role: string) => boolean): IdentityMap {
  const problems: string[] = [];
  let source = '';
  try {
    source = readFileSync(path, 'utf8');
  } catch {
    problems.push('MCP_AUTH_SERVER_IDENTITY_FILE: cannot read the file it names');
  }
  const map = problems.length ? undefined : parseIdentityMap(source, knownRole, problems);
  if (!map || problems.length) throw new Error(`Invalid identity mapping:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return map;
}

const verifiedEmail = (claims: UpstreamClaims): string | undefined =>
  claims.email_verified === true && typeof claims.email === 'string' ? claims.email.toLowerCase() : undefined;

const claimHas = (value: unknown, wanted: string | number | boolean): boolean =>
  Array.isArray(value) ? value.includes(wanted) : value === wanted;

/**
 * Maps an upstream identity to a role and tenant: the first rule whose every
 * condition holds. No rule, no access (the sign-in is refused). Pure.
 *
 * @example mapIdentity({ iss, sub: '42', email: 'a@example.com', email_verified: true }, map)
 */
export function mapIdentity(claims: UpstreamClaims, map: IdentityMap): Mapped {
  const groups = claims[map.groups_claim ?? 'groups'];
  const email = verifiedEmail(claims);
  for (const [index, rule] of map.rules.entries()) {
    const { match } = rule;
    if (match.sub !== undefined && claims.sub !== match.sub) continue;
    if (match.email !== undefined && email !== match.email.toLowerCase()) continue;
    if (match.email_domain !== undefined && !email?.endsWith(`@${match.email_domain.toLowerCase()}`)) continue;
    if (match.groups !== undefined && !(Array.isArray(groups) && match.groups.some((group) => groups.includes(group)))) continue;
    if (match.claims !== undefined && !Object.entries(match.claims).every(([name, value]) => claimHas(claims[name], value))) continue;
    if (rule.tenant === undefined) return { ok: true, role: rule.role, rule: index };
    if (typeof rule.tenant === 'string') return { ok: true, role: rule.role, tenant: rule.tenant, rule: index };
    const tenant = claims[rule.tenant.claim];
    if (typeof tenant !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(tenant)) return { ok: false, reason: 'bad_tenant_claim' };
    return { ok: true, role: rule.role, tenant, rule: index };
  }
  return { ok: false, reason: 'no_rule_matched' };
}
