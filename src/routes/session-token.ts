import type { RequestHandler } from 'express';
import type { SessionTokenStore } from '../stores/session-tokens.js';

/** Options of {@link createSessionTokenRoute}. */
export interface SessionTokenRouteOptions {
  store: SessionTokenStore;
  /** Role of the tokens handed out. */
  role: string;
  /** Token lifetime (at most one hour). */
  ttlMs: number;
  /** Interval of keep-alive comments. Default 15 s. */
  keepAliveMs?: number;
  /** Registers a function that ends the stream (shutdown); returns an unregister function. */
  track(close: () => void): () => void;
  /** Called with the principal id once a token died (stream closed or expired). */
  onTokenEnded?(principalId: string): void;
  onStreamChange?(delta: 1 | -1): void;
  onError?(error: unknown): void;
}

/**
 * `GET /session` (development mode): opens an SSE stream and sends one
 * `session-token` event with a fresh bearer token for `/mcp`. The token lives
 * while the stream is open and at most `ttlMs`; closing the stream revokes it.
 */
export function createSessionTokenRoute(options: SessionTokenRouteOptions): RequestHandler {
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  return async function sessionToken(req, res, next) {
    if (req.guard) req.guard.route = 'session';
    let issued;
    try {
      issued = await options.store.issue(options.role, options.ttlMs);
    } catch (error) {
      return next(error);
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    const payload = { token: issued.token, tokenType: 'Bearer', expiresAt: new Date(issued.expiresAt).toISOString() };
    res.write(`event: session-token\ndata: ${JSON.stringify(payload)}\n\n`);
    options.onStreamChange?.(1);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    const expiry = setTimeout(() => res.end(), Math.max(0, issued.expiresAt - Date.now()));
    const untrack = options.track(() => res.end());
    res.once('close', () => {
      clearInterval(keepAlive);
      clearTimeout(expiry);
      untrack();
      options.onStreamChange?.(-1);
      options.store
        .revoke(issued.token)
        .then(() => options.onTokenEnded?.(`session:${issued.id}`))
        .catch((error: unknown) => options.onError?.(error));
    });
  };
}
