import type { RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { ErrorCode } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';

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
  /** Most streams open at once, across all principals. Default 32. */
  maxStreams?: number;
  /** Most streams one principal may hold open. Default 2. */
  maxStreamsPerPrincipal?: number;
}

/** The live-metrics route, and a way to end the streams of a principal whose credential was revoked. */
export type LiveMetricsRoute = RequestHandler & {
  /** Ends every stream opened by `principalId`; returns how many. */
  closeStreamsOf(principalId: string): number;
};

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

/**
 * `GET /metrics/live`: an SSE stream with a JSON snapshot of every metric each second. Each stream
 * costs a snapshot of the registry per interval, so their number is capped in total and per
 * principal; beyond either cap the request is refused with 429 `rate_limited`. The streams of a
 * principal end at once when its credential is revoked (`closeStreamsOf`).
 */
export function createLiveMetricsRoute(options: LiveMetricsOptions): LiveMetricsRoute {
  const intervalMs = options.intervalMs ?? 1000;
  const maxStreams = options.maxStreams ?? 32;
  const maxPerPrincipal = options.maxStreamsPerPrincipal ?? 2;
  if (!(Number.isInteger(maxStreams) && maxStreams >= 1 && Number.isInteger(maxPerPrincipal) && maxPerPrincipal >= 1)) {
    throw new TypeError('createLiveMetricsRoute: maxStreams and maxStreamsPerPrincipal must be positive integers');
  }
  const open = new Map<string, Set<() => void>>();
  let total = 0;

  const liveMetrics: RequestHandler = function liveMetrics(req, res, next) {
    if (req.guard) req.guard.route = 'metrics_live';
    const principalId = req.guard?.principal?.id ?? '';
    const mine = open.get(principalId) ?? new Set<() => void>();
    if (total >= maxStreams || mine.size >= maxPerPrincipal) {
      const limit = mine.size >= maxPerPrincipal ? `${maxPerPrincipal} per principal` : `${maxStreams} in total`;
      return next(
        new GuardError(ErrorCode.RateLimited, `Too many live metrics streams are open (at most ${limit}); close one first`, {
          retryAfter: Math.ceil(intervalMs / 1000),
          reason: 'live_streams',
        }),
      );
    }
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
    const end = (): void => {
      clearInterval(timer);
      res.end();
    };
    open.set(principalId, mine.add(end));
    total += 1;
    options.onStreamChange?.(1);
    const untrack = options.track(end);
    res.once('close', () => {
      clearInterval(timer);
      untrack();
      mine.delete(end);
      if (mine.size === 0) open.delete(principalId);
      total -= 1;
      options.onStreamChange?.(-1);
    });
  };
  return Object.assign(liveMetrics, {
    closeStreamsOf(principalId: string): number {
      const streams = [...(open.get(principalId) ?? [])];
      for (const end of streams) end();
      return streams.length;
    },
  });
}
