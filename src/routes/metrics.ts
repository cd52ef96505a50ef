import type { RequestHandler } from 'express';
import type { Registry } from 'prom-client';

/** `GET /metrics`: the registry in Prometheus text format. */
export function createMetricsRoute(registry: Registry): RequestHandler {
  return async function metrics(req, res, next) {
    if (req.guard) req.guard.route = 'metrics';
    try {
      const body = await registry.metrics();
      res.setHeader('Content-Type', registry.contentType);
      res.send(body);
    } catch (error) {
      next(error);
    }
  };
}

/** Options of {@link createLiveMetricsRoute}. */
export interface LiveMetricsOptions {
  registry: Registry;
  /** Interval between snapshots. Default 1000 ms. */
  intervalMs?: number;
  /** Called with a function that ends the stream; used to end every stream at shutdown. */
  track(close: () => void): () => void;
  onStreamChange?(delta: 1 | -1): void;
}

/** Compact snapshot: metric name to its samples' values (labels joined). */
async function snapshot(registry: Registry): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const metric of await registry.getMetricsAsJSON()) {
    const values: Record<string, number> = {};
    for (const sample of metric.values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>) {
      const labels = Object.entries(sample.labels)
        .map(([key, value]) => `${key}=${value}`)
        .join(',');
      values[`${sample.metricName ?? metric.name}${labels ? `{${labels}}` : ''}`] = sample.value;
    }
    out[metric.name] = values;
  }
  return out;
}

/** `GET /metrics/live`: an SSE stream with a JSON snapshot of every metric each second. */
export function createLiveMetricsRoute(options: LiveMetricsOptions): RequestHandler {
  const intervalMs = options.intervalMs ?? 1000;
  return function liveMetrics(req, res) {
    if (req.guard) req.guard.route = 'metrics_live';
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    let busy = false;
    const send = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      try {
        res.write(
          `event: metrics\ndata: ${JSON.stringify({ time: new Date().toISOString(), metrics: await snapshot(options.registry) })}\n\n`,
        );
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void send(), intervalMs);
    void send();
    options.onStreamChange?.(1);
    const end = (): void => {
      clearInterval(timer);
      res.end();
    };
    const untrack = options.track(end);
    res.once('close', () => {
      clearInterval(timer);
      untrack();
      options.onStreamChange?.(-1);
    });
  };
}
