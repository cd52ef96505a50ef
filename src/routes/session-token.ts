import { isIP } from 'node:net';
import type { RequestHandler } from 'express';
import { ErrorCode } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';
import { isBrowserRequest } from '../middleware/request-shape.js';
import { holdSessionToken, type HeldSessionToken, type SessionTokenStore } from '../stores/session-tokens.js';

/** Options of {@link createSessionTokenRoute}. */
export interface SessionTokenRouteOptions {
  store: SessionTokenStore;
  /** Role of the tokens handed out. */
  role: string;
  /** Token lifetime (at most one hour). */
  ttlMs: number;
  /** How long a token outlives a stream that stopped renewing it (a crashed process). */
  leaseMs: number;
  /** Interval of keep-alive comments. Default 15 s. */
  keepAliveMs?: number;
  /** Registers a function that ends the stream (shutdown); returns an unregister function. */
  track(close: () => void): () => void;
  /** Called with the principal id once a token died (stream closed or expired). */
  onTokenEnded?(principalId: string): void;
  onStreamChange?(delta: 1 | -1): void;
  onError?(error: unknown): void;
}

/** True for 127.0.0.0/8 and ::1, also IPv4-mapped. */
export function isLoopbackAddress(address: string | undefined): boolean {
  const bare = address?.toLowerCase().replace(/^::ffff:/, '') ?? '';
  return bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

/**
 * `GET /session` (development mode): opens an SSE stream and sends one
 * `session-token` event with a fresh bearer token for `/mcp`. The token lives
 * while the stream is open and at most `ttlMs`; closing the stream revokes it,
 * and if this process dies the token expires within `leaseMs`. A token handed
 * to a loopback client is accepted from loopback only. Requests a web page
 * could have made (see `isBrowserRequest`) get 403 and no token, whatever
 * `MCP_CORS_ORIGINS` allows.
 */
export function createSessionTokenRoute(options: SessionTokenRouteOptions): RequestHandler {
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  return async function sessionToken(req, res, next) {
    if (req.guard) req.guard.route = 'session';
    if (isBrowserRequest(req.headers)) {
      return next(new GuardError(ErrorCode.OriginNotAllowed, 'Development tokens are never handed to a web page'));
    }
    let held: HeldSessionToken;
    try {
      held = await holdSessionToken(options.store, options.role, {
        ttlMs: options.ttlMs,
        leaseMs: options.leaseMs,
        loopbackOnly: isLoopbackAddress(req.socket.remoteAddress),
        onLost: () => res.end(),
        ...(options.onError ? { onError: options.onError } : {}),
      });
    } catch (error) {
      return next(error);
    }
    const expiresAt = held.expiresAt ?? Date.now() + options.ttlMs;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    const payload = { token: held.token, tokenType: 'Bearer', expiresAt: new Date(expiresAt).toISOString() };
    res.write(`event: session-token\ndata: ${JSON.stringify(payload)}\n\n`);
    options.onStreamChange?.(1);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    const expiry = setTimeout(() => res.end(), Math.max(0, expiresAt - Date.now()));
    const untrack = options.track(() => res.end());
    res.once('close', () => {
      clearInterval(keepAlive);
      clearTimeout(expiry);
      untrack();
      options.onStreamChange?.(-1);
      held
        .release()
        .then(() => options.onTokenEnded?.(`session:${held.id}`))
        .catch((error: unknown) => options.onError?.(error));
    });
  };
}
