import { createAuditExporter, type AuditExporter } from '../audit/exporter.js';
import { createJsonlAuditLogger } from '../audit/jsonl-writer.js';
import { createAuditTrailMetrics } from '../audit/metrics.js';
import { createRefusalAggregator } from '../audit/refusals.js';
import { datadogSink, splunkSink, sumoSink, webhookSink, type AuditSink } from '../audit/sinks/index.js';
import { createNullAuditLogger, type AuditLogger } from '../audit/types.js';
import type { GuardConfig } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { describeError } from '../logging/redact.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';

/** The audit trail of the reference server and its export to SIEM collectors. */
export interface AppAudit {
  audit: AuditLogger;
  exporter: AuditExporter | undefined;
  /** Stops the export, then flushes and closes the trail. */
  close(): Promise<void>;
}

/** Ships the audit trail to the SIEM collectors the configuration enables (none: undefined). */
function startAuditExport(config: GuardConfig, audit: AuditLogger, metrics: GuardMetrics, logger: Logger): AuditExporter | undefined {
  const { siem } = config.audit;
  const sinks: AuditSink[] = [
    ...(siem.splunk ? [splunkSink(siem.splunk)] : []),
    ...(siem.datadog ? [datadogSink({ apiKey: siem.datadog.apiKey, ...(siem.datadog.url ? { url: siem.datadog.url } : {}) })] : []),
    ...(siem.sumo ? [sumoSink(siem.sumo)] : []),
    ...(siem.webhook ? [webhookSink(siem.webhook)] : []),
  ];
  if (sinks.length === 0) return undefined;
  return createAuditExporter({
    dir: config.audit.dir,
    sinks,
    spoolMaxBytes: config.audit.spoolMaxBytes,
    onSent: (sink, records) => metrics.auditExports.inc({ sink, outcome: 'success' }, records),
    onFailed: (sink, error) => {
      metrics.auditExports.inc({ sink, outcome: 'failure' });
      logger.warn('audit export failed; retrying with backoff', { sink, error: describeError(error) });
    },
    onLag: (sink, bytes) => metrics.auditSpoolBytes.set({ sink }, bytes),
    onOverflow: (sink, records) => {
      metrics.auditOverflow.inc({ sink }, records);
      logger.error('audit export fell behind its spool bound; oldest records skipped', { sink, records });
      audit
        .record({
          type: 'audit.overflow',
          action: `export ${sink}`,
          outcome: { status: 'error', code: 'spool_full' },
          details: { sink, skipped: records },
        })
        .catch(() => undefined);
    },
  });
}

/**
 * Opens the hash-chained JSONL trail (or uses `given`): it takes the
 * directory's lock (a second writer is refused), refusals go through the
 * aggregator, and the SIEM export starts.
 */
export function openAudit(config: GuardConfig, metrics: GuardMetrics, logger: Logger, given?: AuditLogger): AppAudit {
  const trail =
    config.audit.enabled && !given
      ? createJsonlAuditLogger({
          dir: config.audit.dir,
          fsync: config.audit.fsync,
          maxFileBytes: config.audit.maxFileBytes,
          rotateDaily: config.audit.rotateDaily,
          retentionDays: config.audit.retentionDays,
          maxDirBytes: config.audit.maxDirBytes,
          checkpointIntervalMs: config.audit.checkpointIntervalMs,
          ...(config.audit.hmacKey ? { hmacKey: config.audit.hmacKey } : {}),
          onWrite: (event) => metrics.auditEvents.inc({ type: event.type }),
          onError: (error) => {
            metrics.auditFailures.inc();
            logger.error('audit write failed', { error: describeError(error) });
          },
        })
      : undefined;
  const trailMetrics = trail ? createAuditTrailMetrics({ registry: metrics.registry, trail }) : undefined;
  const { refusals } = config.audit;
  const audit =
    given ??
    (trail && refusals.windowMs > 0
      ? createRefusalAggregator({
          audit: trail,
          windowMs: refusals.windowMs,
          inFull: refusals.inFull,
          onSuppressed: trailMetrics?.countSuppressed,
        })
      : (trail ?? createNullAuditLogger()));
  const exporter = trail ? startAuditExport(config, audit, metrics, logger) : undefined;
  if (trail) metrics.auditHeadTime.read = () => trail.head().time;
  return {
    audit,
    exporter,
    async close() {
      await exporter?.stop();
      await audit.close();
    },
  };
}
