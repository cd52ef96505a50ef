import client from 'prom-client';
import { boundLabels, methodLabel, oneOf } from '../metrics/labels.js';

/** The gateway's own metrics, each labelled by upstream (names come from the gateway file: bounded). */
export interface GatewayMetrics {
  /** Requests forwarded to an upstream, by upstream, method and outcome (`ok`, `error`, `input_required`). */
  requests: client.Counter<'upstream' | 'method' | 'outcome'>;
  /** Time of forwarded requests, held input rounds included. */
  duration: client.Histogram<'upstream' | 'method'>;
  /** Open connections (stdio children, upstream sessions). */
  connections: client.Gauge<'upstream'>;
  /** Connection lifecycle: started, start_failed, crashed, killed_memory, stopped_idle, evicted. */
  events: client.Counter<'upstream' | 'event'>;
  /** 1 when the upstream's last connection attempt worked, 0 when it failed or the connection ended. */
  up: client.Gauge<'upstream'>;
  /** Calls of a 2025 upstream held while a client answers an input round. */
  held: client.Gauge<'upstream'>;
}

const EVENTS = ['started', 'start_failed', 'crashed', 'killed_memory', 'stopped_idle', 'evicted'];

/**
 * Registers the gateway's metrics in `registry` (the one `/metrics` serves).
 * Upstream labels take only the names of the gateway file, method labels
 * only MCP method names, so no upstream or client can grow the series.
 */
export function createGatewayMetrics(registry: client.Registry, upstreams: readonly string[], prefix = 'mcp_guard_'): GatewayMetrics {
  const upstream = oneOf(upstreams);
  const registers = [registry];
  return {
    requests: boundLabels(
      new client.Counter({
        name: `${prefix}gateway_upstream_requests_total`,
        help: 'Requests forwarded to an upstream, by upstream, method and outcome',
        labelNames: ['upstream', 'method', 'outcome'],
        registers,
      }),
      ['upstream', 'method', 'outcome'],
      { upstream, method: methodLabel, outcome: oneOf(['ok', 'error', 'input_required']) },
    ),
    duration: boundLabels(
      new client.Histogram({
        name: `${prefix}gateway_upstream_request_duration_seconds`,
        help: 'Time of requests forwarded to an upstream (held input rounds included)',
        labelNames: ['upstream', 'method'],
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
        registers,
      }),
      ['upstream', 'method'],
      { upstream, method: methodLabel },
    ),
    connections: boundLabels(
      new client.Gauge({
        name: `${prefix}gateway_upstream_connections`,
        help: 'Open upstream connections (stdio children, sessions)',
        labelNames: ['upstream'],
        registers,
      }),
      ['upstream'],
      { upstream },
    ),
    events: boundLabels(
      new client.Counter({
        name: `${prefix}gateway_upstream_events_total`,
        help: 'Upstream connection lifecycle events (started, start_failed, crashed, killed_memory, stopped_idle, evicted)',
        labelNames: ['upstream', 'event'],
        registers,
      }),
      ['upstream', 'event'],
      { upstream, event: oneOf(EVENTS) },
    ),
    up: boundLabels(
      new client.Gauge({
        name: `${prefix}gateway_upstream_up`,
        help: '1 when the upstream answered its last connection attempt',
        labelNames: ['upstream'],
        registers,
      }),
      ['upstream'],
      { upstream },
    ),
    held: boundLabels(
      new client.Gauge({
        name: `${prefix}gateway_held_calls`,
        help: 'Calls of a 2025 upstream waiting for a client to answer an input round',
        labelNames: ['upstream'],
        registers,
      }),
      ['upstream'],
      { upstream },
    ),
  };
}
