import { createHmac } from 'node:crypto';

/** One audit record as stored in the trail (parsed JSON). */
export type AuditRecord = Record<string, unknown> & { type?: string; time?: string };

/** A collector that receives batches of audit records. `send` throws when the batch was not accepted. */
export interface AuditSink {
  /** Short name for metrics and the cursor file: `splunk`, `datadog`, `sumo`, `webhook`. */
  readonly name: string;
  send(records: AuditRecord[], signal: AbortSignal): Promise<void>;
}

async function post(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<void> {
  const response = await fetch(url, { method: 'POST', headers, body, signal });
  await response.arrayBuffer().catch(() => undefined);
  // Never echo the collector's answer: it may quote the credential.
  if (!response.ok) throw new Error(`collector answered HTTP ${response.status}`);
}

/** Splunk HTTP Event Collector: `Authorization: Splunk <token>`, one `{time, source, sourcetype, event}` object per record. */
export function splunkSink(options: { url: string; token: string; sourcetype?: string }): AuditSink {
  return {
    name: 'splunk',
    send(records, signal) {
      const body = records
        .map((event) =>
          JSON.stringify({
            time: Date.parse(String(event.time)) / 1000,
            source: 'mcp-guard',
            sourcetype: options.sourcetype ?? 'mcp-guard:audit',
            event,
          }),
        )
        .join('\n');
      return post(options.url, { Authorization: `Splunk ${options.token}`, 'Content-Type': 'application/json' }, body, signal);
    },
  };
}

/** Datadog Logs API v2: `DD-API-KEY`, a JSON array of log entries. */
export function datadogSink(options: { url?: string; apiKey: string; service?: string }): AuditSink {
  const url = options.url ?? 'https://http-intake.logs.datadoghq.com/api/v2/logs';
  return {
    name: 'datadog',
    send(records, signal) {
      const body = JSON.stringify(
        records.map((record) => ({
          ddsource: 'mcp-guard',
          service: options.service ?? 'mcp-guard',
          ddtags: `audit_type:${String(record.type ?? 'unknown')}`,
          message: JSON.stringify(record),
        })),
      );
      return post(url, { 'DD-API-KEY': options.apiKey, 'Content-Type': 'application/json' }, body, signal);
    },
  };
}

/** Sumo Logic HTTP source: the URL carries the secret; newline-delimited JSON. */
export function sumoSink(options: { url: string; category?: string }): AuditSink {
  return {
    name: 'sumo',
    send(records, signal) {
      const body = records.map((record) => JSON.stringify(record)).join('\n');
      return post(
        options.url,
        { 'Content-Type': 'text/plain', 'X-Sumo-Category': options.category ?? 'mcp-guard/audit', 'X-Sumo-Name': 'mcp-guard' },
        body,
        signal,
      );
    },
  };
}

/** The signature a webhook receiver checks: HMAC-SHA256 over `<timestamp>.<body>`, hex. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** A generic JSON webhook, signed: `X-MCP-Guard-Timestamp` and `X-MCP-Guard-Signature: sha256=<hex>`. */
export function webhookSink(options: { url: string; secret: string }): AuditSink {
  return {
    name: 'webhook',
    send(records, signal) {
      const body = JSON.stringify({ records });
      const timestamp = String(Math.floor(Date.now() / 1000));
      return post(
        options.url,
        {
          'Content-Type': 'application/json',
          'X-MCP-Guard-Timestamp': timestamp,
          'X-MCP-Guard-Signature': `sha256=${webhookSignature(options.secret, timestamp, body)}`,
        },
        body,
        signal,
      );
    },
  };
}
