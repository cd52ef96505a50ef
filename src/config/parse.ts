import { isAddressOrCidr } from '../core/cidr.js';
import type { StaticApiKey, TrustProxySetting } from './types.js';

/**
 * Parses `MCP_API_KEYS`: comma-separated `secret` or `name:role:secret`
 * entries, each optionally followed by `;tenant=<id>` and `;cidrs=<cidr>|<cidr>`.
 */
export function parseApiKeys(raw: string | undefined, problems: string[]): StaticApiKey[] {
  if (!raw) return [];
  const keys: StaticApiKey[] = [];
  raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .forEach((entry, index) => {
      const [main = '', ...attributes] = entry.split(';');
      const parts = main.split(':');
      const [name, role, secret] =
        parts.length >= 3 ? [parts[0]!, parts[1]!, parts.slice(2).join(':')] : [`static-${index + 1}`, 'operator', main];
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) problems.push(`MCP_API_KEYS: entry ${index + 1} has an invalid name`);
      if (secret.length < 32) problems.push(`MCP_API_KEYS: entry ${index + 1} must have a secret of at least 32 characters`);
      const key: StaticApiKey = { name, role: role || 'operator', secret };
      for (const attribute of attributes) {
        const [attr, value = ''] = attribute.split('=', 2) as [string, string?];
        if (attr === 'tenant' && /^[A-Za-z0-9_.-]{1,64}$/.test(value)) key.tenant = value;
        else if (attr === 'cidrs' && value.split('|').every((cidr) => isAddressOrCidr(cidr))) key.allowedCidrs = value.split('|');
        else problems.push(`MCP_API_KEYS: entry ${index + 1} has an invalid attribute (use ;tenant=<id> or ;cidrs=<cidr>|<cidr>)`);
      }
      keys.push(key);
    });
  const names = new Set(keys.map((key) => key.name));
  if (names.size !== keys.length) problems.push('MCP_API_KEYS: key names must be unique');
  return keys;
}

/** Parses `MCP_TRUST_PROXY`: off, `true`, a hop count, or trusted proxy addresses/CIDRs. */
export function parseTrustProxy(raw: string | undefined, problems: string[]): TrustProxySetting {
  const value = raw?.trim().toLowerCase();
  if (!value || value === 'false' || value === '0' || value === 'off') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  // Express also knows the names loopback, linklocal and uniquelocal.
  const bad = items.filter((item) => !isAddressOrCidr(item) && !['loopback', 'linklocal', 'uniquelocal'].includes(item));
  if (bad.length) problems.push('MCP_TRUST_PROXY: must be false, true, a hop count, or a list of IP addresses/CIDRs');
  return items;
}
