import client from 'prom-client';
import { boundLabels, capped, methodLabel, oneOf, toolBound, type LabelBound } from './labels.js';

/** Options of {@link createGuardMetrics}. */
export interface GuardMetricsOptions {
  /** Registry to register into. Default: a new registry (never the global one). */
  registry?: client.Registry;
  /** Metric name prefix. Default `mcp_guard_`. */
  prefix?: string;
  /** Also collect Node process metrics (CPU, memory, event loop). Default `true`. */
  collectDefaults?: boolean;
  /**
   * The declared tools: the only values `tool` labels take (others are `undeclared`). Default: the
   * first 100 names seen are kept, later ones are `other`.
   */
  tools?: readonly string[];
}

/** The metrics mcp-guard maintains; pass one instance to every middleware. */
export interface GuardMetrics {
  registry: client.Registry;
  httpRequests: client.Counter<'method' | 'route' | 'status'>;
  httpDuration: client.Histogram<'method' | 'route'>;
  authAttempts: client.Counter<'method' | 'outcome'>;
  rateLimitHits: client.Counter<'scope' | 'tool'>;
  /** 1 while the shared store is unreachable and rate limits count locally. */
  storeDegraded: client.Gauge;
  /** Times rate limiting fell back to local counters. */
  storeFallbacks: client.Counter;
  authzDenials: client.Counter<'method' | 'tool' | 'permission'>;
  toolCalls: client.Counter<'tool' | 'outcome'>;
  toolDuration: client.Histogram<'tool'>;
  auditEvents: client.Counter<'type'>;
  auditFailures: client.Counter;
  /** Records shipped to or refused by a SIEM sink. */
  auditExports: client.Counter<'sink' | 'outcome'>;
  /** Bytes a SIEM sink is behind the trail (its share of the on-disk spool). */
  auditSpoolBytes: client.Gauge<'sink'>;
  /** Records skipped because a sink fell more than the spool bound behind. */
  auditOverflow: client.Counter<'sink'>;
  /** Seconds since the last audit record was written; reads `auditHeadTime` at scrape time. */
  auditChainHeadAge: client.Gauge;
  /** Set by the app: the time (ms) of the newest audit record, undefined before the first. */
  auditHeadTime: { read?: () => number | undefined };
  activeSessions: client.Gauge;
  openStreams: client.Gauge<'kind'>;
  sessionHijackAttempts: client.Counter;
  /** Credential lifecycle: `event` is key.created, token.issued, token.reuse_detected, ...; `outcome` success or a reason. */
  credentialEvents: client.Counter<'event' | 'outcome'>;
  /** Lockouts engaged, by subject (`ip` or `key`). */
  lockouts: client.Counter<'subject'>;
}

/**
 * Creates mcp-guard's Prometheus metrics in their own registry, so that two
 * stacks in one process (or one process's tests) never collide. Every label
 * value is bounded (see `labels.ts`): JSON-RPC methods outside the MCP
 * specification are `other`, tool names outside `tools` are `undeclared`, and
 * every other label keeps at most a few dozen distinct values, so no client can
 * grow the registry without bound.
 *
 * @example const metrics = createGuardMetrics(); app.get('/metrics', ...metrics.registry.metrics())
 */
export function createGuardMetrics(options: GuardMetricsOptions = {}): GuardMetrics {
  const registry = options.registry ?? new client.Registry();
  const p = options.prefix ?? 'mcp_guard_';
  const registers = [registry];
  if (options.collectDefaults ?? true) client.collectDefaultMetrics({ register: registry, prefix: p });
  const auditHeadTime: GuardMetrics['auditHeadTime'] = {};
  const tool = (): LabelBound => toolBound(options.tools);
  const httpMethod = oneOf(['GET', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PUT', 'PATCH']);
  const status: LabelBound = (value) => (/^[1-5]\d\d$/.test(value) ? value : 'other');
  // The wrappers keep prom-client's types: every call site stays as it is.
  const bounded = new Set<object>();
  const b = <M extends object>(metric: M, labelNames: readonly string[], bounds: Record<string, LabelBound> = {}): M => {
    bounded.add(metric);
    return boundLabels(metric, labelNames, bounds);
  };
  const metrics: GuardMetrics = {
    registry,
    httpRequests: b(
      new client.Counter({
        name: `${p}http_requests_total`,
        help: 'HTTP requests answered, by method, route and status',
        labelNames: ['method', 'route', 'status'],
        registers,
      }),
      ['method', 'route', 'status'],
      { method: httpMethod, route: capped(32), status },
    ),
    httpDuration: b(
      new client.Histogram({
        name: `${p}http_request_duration_seconds`,
        help: 'Time to answer HTTP requests (until the response ends)',
        labelNames: ['method', 'route'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
        registers,
      }),
      ['method', 'route'],
      { method: httpMethod, route: capped(32) },
    ),
    authAttempts: b(
      new client.Counter({
        name: `${p}auth_attempts_total`,
        help: 'Authentication outcomes, by method and outcome (success or failure reason)',
        labelNames: ['method', 'outcome'],
        registers,
      }),
      ['method', 'outcome'],
      { method: capped(16), outcome: capped(64) },
    ),
    rateLimitHits: b(
      new client.Counter({
        name: `${p}rate_limit_hits_total`,
        help: 'Requests refused by a rate limit, by scope and tool',
        labelNames: ['scope', 'tool'],
        registers,
      }),
      ['scope', 'tool'],
      { scope: oneOf(['ip', 'principal', 'tool', 'global']), tool: tool() },
    ),
    storeDegraded: new client.Gauge({
      name: `${p}store_degraded`,
      help: '1 while the shared store (Redis) is unreachable and rate limits count locally',
      registers,
    }),
    storeFallbacks: new client.Counter({
      name: `${p}store_fallbacks_total`,
      help: 'Times rate limiting fell back to local counters because the shared store was unreachable',
      registers,
    }),
    authzDenials: b(
      new client.Counter({
        name: `${p}authz_denials_total`,
        help: 'MCP requests refused for a missing permission',
        labelNames: ['method', 'tool', 'permission'],
        registers,
      }),
      ['method', 'tool', 'permission'],
      { method: methodLabel, tool: tool(), permission: capped(64) },
    ),
    toolCalls: b(
      new client.Counter({
        name: `${p}tool_calls_total`,
        help: 'MCP tool calls, by tool and outcome',
        labelNames: ['tool', 'outcome'],
        registers,
      }),
      ['tool', 'outcome'],
      { tool: tool(), outcome: capped(8) },
    ),
    toolDuration: b(
      new client.Histogram({
        name: `${p}tool_call_duration_seconds`,
        help: 'Duration of MCP tool calls',
        labelNames: ['tool'],
        buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
        registers,
      }),
      ['tool'],
      { tool: tool() },
    ),
    auditEvents: b(
      new client.Counter({
        name: `${p}audit_events_total`,
        help: 'Audit events written, by type',
        labelNames: ['type'],
        registers,
      }),
      ['type'],
      { type: capped(64) },
    ),
    auditExports: b(
      new client.Counter({
        name: `${p}audit_export_records_total`,
        help: 'Audit records shipped to a SIEM sink (outcome success) and failed batches (outcome failure)',
        labelNames: ['sink', 'outcome'],
        registers,
      }),
      ['sink', 'outcome'],
      { sink: capped(8), outcome: capped(8) },
    ),
    auditSpoolBytes: b(
      new client.Gauge({
        name: `${p}audit_spool_bytes`,
        help: 'Bytes of audit trail a SIEM sink has not received yet',
        labelNames: ['sink'],
        registers,
      }),
      ['sink'],
      { sink: capped(8) },
    ),
    auditOverflow: b(
      new client.Counter({
        name: `${p}audit_export_overflow_records_total`,
        help: 'Audit records skipped because a SIEM sink fell further behind than the spool bound',
        labelNames: ['sink'],
        registers,
      }),
      ['sink'],
      { sink: capped(8) },
    ),
    auditChainHeadAge: new client.Gauge({
      name: `${p}audit_chain_head_age_seconds`,
      help: 'Seconds since the last audit record was written (the head of the hash chain)',
      registers,
      collect() {
        const time = auditHeadTime.read?.();
        this.set(time === undefined ? 0 : (Date.now() - time) / 1000);
      },
    }),
    auditHeadTime,
    auditFailures: new client.Counter({
      name: `${p}audit_write_failures_total`,
      help: 'Audit writes that failed (the requests they described were refused)',
      registers,
    }),
    activeSessions: new client.Gauge({ name: `${p}mcp_sessions`, help: 'Open MCP sessions', registers }),
    openStreams: b(
      new client.Gauge({
        name: `${p}open_streams`,
        help: 'Open SSE streams, by kind',
        labelNames: ['kind'],
        registers,
      }),
      ['kind'],
      { kind: capped(8) },
    ),
    sessionHijackAttempts: new client.Counter({
      name: `${p}session_hijack_attempts_total`,
      help: 'Requests presenting an MCP session id owned by another principal',
      registers,
    }),
    credentialEvents: b(
      new client.Counter({
        name: `${p}credential_events_total`,
        help: 'API-key and token lifecycle events, by event and outcome',
        labelNames: ['event', 'outcome'],
        registers,
      }),
      ['event', 'outcome'],
      { event: capped(32), outcome: capped(64) },
    ),
    lockouts: b(
      new client.Counter({
        name: `${p}lockouts_total`,
        help: 'Brute-force lockouts engaged, by subject (ip or key)',
        labelNames: ['subject'],
        registers,
      }),
      ['subject'],
      { subject: oneOf(['ip', 'key']) },
    ),
  };
  // A metric added here without `b(...)` still gets bounded labels (each capped at 64 values).
  for (const metric of Object.values(metrics)) {
    const labelNames = (metric as { labelNames?: unknown }).labelNames;
    const isMetric = [client.Counter, client.Gauge, client.Histogram, client.Summary].some((kind) => metric instanceof kind);
    if (isMetric && !bounded.has(metric as object) && Array.isArray(labelNames) && labelNames.length) {
      boundLabels(metric as object, labelNames as string[]);
    }
  }
  return metrics;
}
