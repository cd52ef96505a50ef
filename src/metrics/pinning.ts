import client from 'prom-client';
import { boundLabels, oneOf } from './labels.js';

/** Metrics of tool-definition pinning, labelled by upstream (names from the gateway file, or the library's one name: bounded). */
export interface PinningMetrics {
  /** Definitions (tools, prompts, resource templates) an upstream lists that are left out and refused (`enforce`). */
  blocked: client.Gauge<'upstream'>;
  /** Definitions an upstream lists, by how they compare with the lock: allowed, drifted, new, flagged, unverifiable. */
  definitions: client.Gauge<'upstream' | 'status'>;
  /** Calls, prompt gets refused because what they name is blocked. */
  refused: client.Counter<'upstream'>;
}

const STATUSES = ['allowed', 'drifted', 'new', 'flagged', 'unverifiable'];

/**
 * Registers the pinning metrics in `registry`. Upstream labels take only the
 * given names; anything else is `other`.
 *
 * @example const pinning = createPinningMetrics(metrics.registry, ['files', 'search']);
 */
export function createPinningMetrics(registry: client.Registry, upstreams: readonly string[], prefix = 'mcp_guard_'): PinningMetrics {
  const upstream = oneOf(upstreams);
  const registers = [registry];
  return {
    blocked: boundLabels(
      new client.Gauge({
        name: `${prefix}pinning_blocked_definitions`,
        help: 'Tools, prompts and resource templates an upstream lists that pinning blocks (enforce mode), as last listed',
        labelNames: ['upstream'],
        registers,
      }),
      ['upstream'],
      { upstream },
    ),
    definitions: boundLabels(
      new client.Gauge({
        name: `${prefix}pinning_definitions`,
        help: 'Definitions an upstream lists, by how they compare with the tool lock (allowed, drifted, new, flagged, unverifiable)',
        labelNames: ['upstream', 'status'],
        registers,
      }),
      ['upstream', 'status'],
      { upstream, status: oneOf(STATUSES) },
    ),
    refused: boundLabels(
      new client.Counter({
        name: `${prefix}pinning_refused_total`,
        help: 'Tool calls and prompt gets refused because the definition they name is blocked',
        labelNames: ['upstream'],
        registers,
      }),
      ['upstream'],
      { upstream },
    ),
  };
}
