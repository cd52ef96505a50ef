import type { Express, RequestHandler } from 'express';
import type { AuditLogger } from '../audit/types.js';
import type { GuardConfig } from '../config/config.js';
import { Permission } from '../core/permissions.js';
import { describeError } from '../logging/redact.js';
import type { Logger } from '../logging/logger.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { createNotFound } from '../middleware/error-handler.js';
import { createProbeMarker } from '../middleware/probe.js';
import { createHealthRoute } from '../routes/health.js';
import { createMetricsRoute } from '../routes/metrics.js';
import { createReadyRoute, type ReadinessCheck } from '../routes/ready.js';
import { createSessionTokenRoute } from '../routes/session-token.js';
import type { SecurityStack } from '../stack.js';
import type { SessionTokenStore } from '../stores/session-tokens.js';
import type { StateStore } from '../stores/types.js';

/** Options of {@link mountOpsRoutes}: what the routes other than the MCP endpoints need. */
export interface OpsRoutesOptions {
  config: GuardConfig;
  /** Its perimeter, limits, authentication and JSON error handler guard these routes. */
  stack: SecurityStack;
  phase: () => 'starting' | 'ready' | 'stopping';
  audit: AuditLogger;
  store: StateStore;
  /** Whether the store answers within its probe's deadline. */
  storeAnswers: () => Promise<boolean>;
  /** More readiness checks (a gateway's upstreams). */
  moreChecks?: () => Record<string, ReadinessCheck>;
  /** The credential routes (discovery documents, token endpoint, authorization server). */
  credentialRoutes: RequestHandler;
  sessionTokens: SessionTokenStore | undefined;
  metrics: GuardMetrics;
  liveMetrics: RequestHandler;
  /** Registers a stream to end at shutdown; returns its release. */
  track: (close: () => void) => () => void;
  /** Announces a principal whose credential ended, to every replica. */
  revoke: (principalId: string) => Promise<void>;
  logger: Logger;
}

/**
 * Mounts every route but the MCP endpoints, in order: probes past the Host
 * allowlist (`/health`, `/ready`, only when nothing looks like a browser), the
 * perimeter, `/health`, `/ready`, the credential routes, development-mode
 * `/session`, `/metrics` and `/metrics/live`, then 404 and the JSON errors.
 */
export function mountOpsRoutes(app: Express, options: OpsRoutesOptions): void {
  const { config, stack, audit, store, storeAnswers, metrics, logger } = options;
  // Docker and Kubernetes probes name the container's address in Host: marked here, they pass the
  // Host allowlist on /health and /ready only.
  app.get(['/health', '/ready'], createProbeMarker());
  app.use(...stack.perimeter);
  app.get('/health', createHealthRoute());
  app.get(
    '/ready',
    createReadyRoute({
      phase: options.phase,
      checks: async () => ({
        audit: audit.healthy() ? { status: 'ok' } : { status: 'down', detail: 'audit log not writable' },
        store: (await storeAnswers())
          ? { status: 'ok', detail: store.kind }
          : { status: 'degraded', detail: `${store.kind} not answering: rate limits local, credential checks refused` },
        ...options.moreChecks?.(),
      }),
    }),
  );
  app.use(options.credentialRoutes);
  if (options.sessionTokens) {
    app.get(
      '/session',
      ...stack.preAuthLimits,
      createSessionTokenRoute({
        store: options.sessionTokens,
        role: config.auth.sessionTokens.role,
        ttlMs: config.auth.sessionTokens.ttlMs,
        leaseMs: config.auth.sessionTokens.leaseMs,
        track: options.track,
        onStreamChange: (delta) => metrics.openStreams.inc({ kind: 'session_token' }, delta),
        onTokenEnded: (principalId) => {
          options
            .revoke(principalId)
            .catch((error: unknown) => logger.warn('revocation broadcast failed', { error: describeError(error) }));
        },
        onError: (error) => logger.warn('session token revocation failed', { error: describeError(error) }),
      }),
    );
  }
  const metricsGate = config.auth.metricsPublic ? [] : [stack.authenticate, stack.requirePermission(Permission.MetricsRead)];
  app.get('/metrics', ...stack.preAuthLimits, ...metricsGate, createMetricsRoute(metrics.registry));
  app.get(
    '/metrics/live',
    ...stack.preAuthLimits,
    stack.authenticate,
    stack.requirePermission(Permission.MetricsRead),
    options.liveMetrics,
  );
  app.use(createNotFound());
  app.use(stack.jsonErrorHandler);
}
