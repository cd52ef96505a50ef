import { BlockList, isIP } from 'node:net';

/** Compiles CIDRs (`10.0.0.0/8`, `2001:db8::/32`) and single addresses into a BlockList; throws on a malformed entry. */
export function compileCidrs(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of cidrs) {
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address);
    if (family === 0) throw new Error('invalid CIDR');
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

/** True when `ip` (as Express reports it, IPv4-mapped IPv6 included) is inside `list`. */
export function addressAllowed(list: BlockList, ip: string | undefined): boolean {
  const address = ip?.toLowerCase().startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const family = address ? isIP(address) : 0;
  return family !== 0 && list.check(address!, family === 4 ? 'ipv4' : 'ipv6');
}

/** True for one IP address or a CIDR (`10.0.0.0/8`, `2001:db8::/32`) with a prefix its family allows. */
export function isAddressOrCidr(item: string): boolean {
  const [address, prefix, extra] = item.split('/');
  if (extra !== undefined || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d+$/.test(prefix) && bits >= 0 && bits <= (family === 4 ? 32 : 128);
}
