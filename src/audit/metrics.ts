import client from 'prom-client';
import type { AuditEventType } from './event.js';
import type { JsonlAuditLogger } from './jsonl-writer.js';

/** Options of {@link createAuditTrailMetrics}. */
export interface AuditTrailMetricsOptions {
  /** The registry the rest of mcp-guard's metrics live in. */
  registry: client.Registry;
  /** Metric name prefix. Default `mcp_guard_`. */
  prefix?: string;
  /** The trail whose directory size and budget are reported, read at scrape time. */
  trail: Pick<JsonlAuditLogger, 'usage'>;
}

/** The trail's own metrics beyond GuardMetrics: its disk budget and the refusals it only counted. */
export interface AuditTrailMetrics {
  /** Refusals counted in an `audit.summary` instead of written in full, by event type. */
  suppressedRefusals: client.Counter<'type'>;
  countSuppressed(type: AuditEventType): void;
}

/**
 * Registers `<prefix>audit_dir_bytes`, `<prefix>audit_dir_budget_bytes`,
 * `<prefix>audit_budget_exceeded` (1 while records are refused because the
 * directory reached its budget: alert on it, and on bytes / budget above 0.8)
 * and `<prefix>audit_refusals_suppressed_total{type}`.
 */
export function createAuditTrailMetrics(options: AuditTrailMetricsOptions): AuditTrailMetrics {
  const p = options.prefix ?? 'mcp_guard_';
  const registers = [options.registry];
  const { trail } = options;
  new client.Gauge({
    name: `${p}audit_dir_bytes`,
    help: 'Bytes in the audit directory (every stream, checkpoints and export cursors)',
    registers,
    collect() {
      this.set(trail.usage().bytes);
    },
  });
  new client.Gauge({
    name: `${p}audit_dir_budget_bytes`,
    help: 'Byte budget of the audit directory (MCP_AUDIT_MAX_DIR_SIZE; 0: none)',
    registers,
    collect() {
      this.set(trail.usage().budgetBytes);
    },
  });
  new client.Gauge({
    name: `${p}audit_budget_exceeded`,
    help: '1 while audit records are refused (and requests fail closed) because the audit directory reached its budget',
    registers,
    collect() {
      this.set(trail.usage().exceeded ? 1 : 0);
    },
  });
  const suppressedRefusals = new client.Counter({
    name: `${p}audit_refusals_suppressed_total`,
    help: 'Refused requests counted in an audit.summary record instead of written in full',
    labelNames: ['type'],
    registers,
  });
  return { suppressedRefusals, countSuppressed: (type) => suppressedRefusals.inc({ type }) };
}
