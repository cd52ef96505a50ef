import type { RequestHandler } from 'express';

/** `GET /health`: liveness. Public; says only that the process answers. */
export function createHealthRoute(): RequestHandler {
  return function health(req, res) {
    if (req.guard) req.guard.route = 'health';
    res.json({ status: 'ok' });
  };
}
