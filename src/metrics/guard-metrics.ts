import client from 'prom-client';

/** Options of {@link createGuardMetrics}. */
export interface GuardMetricsOptions {
  /** Registry to register into. Default: a new registry (never the global one). */
  registry?: client.Registry;
  /** Metric name prefix. Default `mcp_guard_`. */
  prefix?: string;
  /** Also collect Node process metrics (CPU, memory, event loop). Default `true`. */
  collectDefaults?: boolean;
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
 * stacks in one process (or one process's tests) never collide.
 *
 * @example const metrics = createGuardMetrics(); app.get('/metrics', ...metrics.registry.metrics())
 */
export function createGuardMetrics(options: GuardMetricsOptions = {}): GuardMetrics {
  const registry = options.registry ?? new client.Registry();
  const p = options.prefix ?? 'mcp_guard_';
  const registers = [registry];
  if (options.collectDefaults ?? true) client.collectDefaultMetrics({ register: registry, prefix: p });
  const auditHeadTime: GuardMetrics['auditHeadTime'] = {};
  return {
    registry,
    httpRequests: new client.Counter({
      name: `${p}http_requests_total`,
      help: 'HTTP requests answered, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new client.Histogram({
      name: `${p}http_request_duration_seconds`,
      help: 'Time to answer HTTP requests (until the response ends)',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    authAttempts: new client.Counter({
      name: `${p}auth_attempts_total`,
      help: 'Authentication outcomes, by method and outcome (success or failure reason)',
      labelNames: ['method', 'outcome'],
      registers,
    }),
    rateLimitHits: new client.Counter({
      name: `${p}rate_limit_hits_total`,
      help: 'Requests refused by a rate limit, by scope and tool',
      labelNames: ['scope', 'tool'],
      registers,
    }),
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
    authzDenials: new client.Counter({
      name: `${p}authz_denials_total`,
      help: 'MCP requests refused for a missing permission',
      labelNames: ['method', 'tool', 'permission'],
      registers,
    }),
    toolCalls: new client.Counter({
      name: `${p}tool_calls_total`,
      help: 'MCP tool calls, by tool and outcome',
      labelNames: ['tool', 'outcome'],
      registers,
    }),
    toolDuration: new client.Histogram({
      name: `${p}tool_call_duration_seconds`,
      help: 'Duration of MCP tool calls',
      labelNames: ['tool'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    auditEvents: new client.Counter({
      name: `${p}audit_events_total`,
      help: 'Audit events written, by type',
      labelNames: ['type'],
      registers,
    }),
    auditExports: new client.Counter({
      name: `${p}audit_export_records_total`,
      help: 'Audit records shipped to a SIEM sink (outcome success) and failed batches (outcome failure)',
      labelNames: ['sink', 'outcome'],
      registers,
    }),
    auditSpoolBytes: new client.Gauge({
      name: `${p}audit_spool_bytes`,
      help: 'Bytes of audit trail a SIEM sink has not received yet',
      labelNames: ['sink'],
      registers,
    }),
    auditOverflow: new client.Counter({
      name: `${p}audit_export_overflow_records_total`,
      help: 'Audit records skipped because a SIEM sink fell further behind than the spool bound',
      labelNames: ['sink'],
      registers,
    }),
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
    openStreams: new client.Gauge({
      name: `${p}open_streams`,
      help: 'Open SSE streams, by kind',
      labelNames: ['kind'],
      registers,
    }),
    sessionHijackAttempts: new client.Counter({
      name: `${p}session_hijack_attempts_total`,
      help: 'Requests presenting an MCP session id owned by another principal',
      registers,
    }),
    credentialEvents: new client.Counter({
      name: `${p}credential_events_total`,
      help: 'API-key and token lifecycle events, by event and outcome',
      labelNames: ['event', 'outcome'],
      registers,
    }),
    lockouts: new client.Counter({
      name: `${p}lockouts_total`,
      help: 'Brute-force lockouts engaged, by subject (ip or key)',
      labelNames: ['subject'],
      registers,
    }),
  };
}
