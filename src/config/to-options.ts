import type { GuardConfig } from './config.js';
import { isLoopbackHost } from './schema.js';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/**
 * Host header names the Origin/Host guard accepts: the configured list, or
 * the loopback names when bound to loopback, plus the public URL's host.
 * Empty (unchecked) only for a non-loopback bind without a list, which the
 * start-up summary warns about.
 */
export function allowedHostsOf(config: GuardConfig): string[] {
  const hosts = new Set(config.http.allowedHosts);
  if (hosts.size === 0 && isLoopbackHost(config.server.host)) LOOPBACK_NAMES.forEach((name) => hosts.add(name));
  if (config.server.publicUrl) hosts.add(new URL(config.server.publicUrl).hostname.toLowerCase());
  return [...hosts];
}
