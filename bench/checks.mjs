// The two long-session checks: a soak (heap before and after many requests in one session or on
// the 2026-07-28 path) and overlapping requests that reuse one JSON-RPC id.
import { Agent } from 'node:http';
import { probe, rssOf, sleep } from './lib.mjs';
import { checkEcho, createAgent, drive, freshId, messagesOf, post } from './load.mjs';

/**
 * Sends `warmup` requests, then `requests` in `chunks` equal parts, forcing a full GC in the
 * server and reading heapUsed before the first part and after each. Every response is checked.
 */
export async function soak({ server, wire, connections, requests, warmup, chunks = 4, timeoutMs }) {
  const agent = createAgent(connections);
  try {
    const warm = await drive({ url: server.url, wire, connections, requests: warmup, agent, timeoutMs });
    const before = await probe(server);
    const samples = [{ after: 0, heapUsed: before.heapUsed, rss: before.rss }];
    let invalid = warm.invalid;
    const reasons = { ...warm.reasons };
    let sent = 0;
    for (let chunk = 0; chunk < chunks; chunk += 1) {
      const count = Math.round(((chunk + 1) * requests) / chunks) - sent;
      const result = await drive({ url: server.url, wire, connections, requests: count, agent, timeoutMs });
      sent += count;
      invalid += result.invalid;
      for (const [reason, n] of Object.entries(result.reasons)) reasons[reason] = (reasons[reason] ?? 0) + n;
      const memory = await probe(server);
      samples.push({ after: sent, heapUsed: memory.heapUsed, rss: memory.rss });
    }
    const last = samples[samples.length - 1];
    return {
      requests: sent,
      invalid,
      reasons,
      samples,
      heapBefore: before.heapUsed,
      heapAfter: last.heapUsed,
      rssBefore: before.rss,
      rssAfter: rssOf(server.pid),
      growth: last.heapUsed - before.heapUsed,
      // After the first part: lazily built caches and pools have settled; a leak keeps growing.
      steadyGrowth: last.heapUsed - samples[1].heapUsed,
      bytesPerRequest: slope(samples.map((sample) => [sample.after, sample.heapUsed])),
    };
  } finally {
    agent.destroy();
  }
}

/**
 * `bursts` times, sends `burst` overlapping requests, each on its own connection, all with the same
 * JSON-RPC id (fresh per burst) and each with its own echo message, and classifies every one:
 * answered (its own echo), misrouted (another request's echo), refused (an HTTP or JSON-RPC
 * error), hung (nothing within `timeoutMs`), or failed (the connection broke). Then checks that
 * a normal request on the same session is still answered.
 */
export async function reusedIds({ server, wire, burst = 20, bursts = 3, timeoutMs = 5_000, holdMs = 200 }) {
  const counts = { sent: 0, answered: 0, misrouted: 0, refused: 0, hung: 0, failed: 0 };
  const refusals = {};
  for (let round = 0; round < bursts; round += 1) {
    const id = freshId();
    const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
    const messages = Array.from({ length: burst }, (_, i) => `r${id}-${i}`);
    // Every request's headers and body but its last byte go out first; the last bytes all leave in
    // one turn once the server has had time to read the rest, so the requests overlap in the server.
    let release;
    const hold = new Promise((resolve) => (release = resolve));
    const pending = messages.map((message) => post(server.url, wire.headers, wire.body(id, message), { agent, timeoutMs, hold }));
    await sleep(holdMs);
    release();
    const answers = await Promise.all(pending);
    agent.destroy();
    answers.forEach((answer, i) => {
      counts.sent += 1;
      if (answer.error === 'timeout') return void (counts.hung += 1);
      if (answer.error) return void (counts.failed += 1);
      const reason = checkEcho(answer.status, answer.headers['content-type'], answer.text, id, messages[i]);
      if (reason === undefined) return void (counts.answered += 1);
      if (reason === 'wrong text') return void (counts.misrouted += 1);
      let key = reason;
      if (answer.status !== 200 && answer.text) {
        try {
          const code = messagesOf(answer.headers['content-type'], answer.text)[0]?.error?.code;
          if (code !== undefined) key = `${reason} / ${code}`;
        } catch {
          // not JSON-RPC: the HTTP status says it
        }
      }
      counts.refused += 1;
      refusals[key] = (refusals[key] ?? 0) + 1;
    });
  }
  const liveId = freshId();
  const live = await post(server.url, wire.headers, wire.body(liveId), { timeoutMs });
  const usable = !live.error && checkEcho(live.status, live.headers['content-type'], live.text, liveId, `m${liveId}`) === undefined;
  return { ...counts, refusals, usableAfter: usable };
}

/** Least-squares slope of y over x (here: heap bytes per request over the soak's samples). */
function slope(points) {
  const n = points.length;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
