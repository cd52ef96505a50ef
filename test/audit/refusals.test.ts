import { jest } from '@jest/globals';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createAuditEvent, type AuditEventInput } from '../../src/audit/event.js';
import { createRefusalAggregator, type RefusalAggregatorOptions } from '../../src/audit/refusals.js';
import type { AuditLogger } from '../../src/audit/types.js';
import { verifyAuditDir } from '../../src/audit/verify.js';
import { INITIALIZE, MCP_POST_HEADERS, startTestServer } from '../helpers/server.js';

/** An in-memory trail that keeps what it is given, and can be made to refuse. */
function memoryTrail() {
  const records: AuditEventInput[] = [];
  let healthy = true;
  const audit: AuditLogger = {
    record(input) {
      if (!healthy) return Promise.reject(new Error('trail not writable'));
      records.push(input);
      return Promise.resolve(createAuditEvent(input));
    },
    healthy: () => healthy,
    close: async () => undefined,
  };
  return { audit, records, setHealthy: (value: boolean) => void (healthy = value) };
}

const failure = (ip: string, reason = 'unknown_key'): AuditEventInput => ({
  type: 'auth.failure',
  action: `POST /mcp/${Math.random()}`,
  actor: { ip, userAgent: `agent ${Math.random()}` },
  outcome: { status: 'failure', code: 'invalid_token' },
  details: { source: 'x-api-key', reason },
});
const summaries = (records: AuditEventInput[]) => records.filter((record) => record.type === 'audit.summary');
const WINDOW = 60_000;

describe('the refusal aggregator', () => {
  let trail: ReturnType<typeof memoryTrail>;
  const aggregate = (options: Partial<RefusalAggregatorOptions> = {}) =>
    createRefusalAggregator({ audit: trail.audit, windowMs: WINDOW, inFull: 3, ...options });
  beforeEach(() => {
    jest.useFakeTimers();
    trail = memoryTrail();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('writes the first refusals of a source and reason in full, counts the rest, and sums them up when the window ends', async () => {
    const audit = aggregate();
    for (let i = 0; i < 10; i += 1) await audit.record(failure('192.0.2.1'));
    expect(trail.records).toHaveLength(3);
    jest.advanceTimersByTime(WINDOW);
    expect(summaries(trail.records)).toEqual([
      expect.objectContaining({
        action: 'summary auth.failure',
        actor: { ip: '192.0.2.1' },
        outcome: { status: 'failure', code: 'invalid_token' },
        details: expect.objectContaining({ summaryOf: 'auth.failure', reason: 'unknown_key', refusals: 10, suppressed: 7, windowMs: WINDOW }),
      }),
    ]);
    await audit.close();
  });

  it('keeps sources and reasons apart, and starts counting again in each window', async () => {
    const audit = aggregate();
    for (let i = 0; i < 5; i += 1) {
      await audit.record(failure('192.0.2.1'));
      await audit.record(failure('192.0.2.2'));
      await audit.record(failure('192.0.2.1', 'expired'));
    }
    expect(trail.records).toHaveLength(9);
    jest.advanceTimersByTime(WINDOW);
    expect(summaries(trail.records)).toHaveLength(3);
    for (let i = 0; i < 5; i += 1) await audit.record(failure('192.0.2.1'));
    expect(trail.records.filter((record) => record.type === 'auth.failure')).toHaveLength(12);
    await audit.close();
  });

  it('passes every other event through, so no allowed request is ever counted instead of written', async () => {
    const audit = aggregate({ inFull: 0 });
    for (let i = 0; i < 50; i += 1) {
      await audit.record({ type: 'tool.call', action: 'tools/call echo', actor: { ip: '192.0.2.1' }, outcome: { status: 'success' } });
      await audit.record({ type: 'auth.success', action: 'POST /mcp', actor: { ip: '192.0.2.1' }, outcome: { status: 'success' } });
      await audit.record({ type: 'auth.lockout', action: 'lock', actor: { ip: '192.0.2.1' }, outcome: { status: 'denied' } });
    }
    expect(trail.records).toHaveLength(150);
    await audit.close();
    expect(summaries(trail.records)).toEqual([]);
  });

  it('bounds what many sources write: maxInFull records in full, maxSources summaries and one for the rest', async () => {
    const audit = aggregate({ inFull: 3, maxInFull: 20, maxSources: 10 });
    for (let source = 0; source < 50; source += 1) {
      for (let i = 0; i < 5; i += 1) await audit.record(failure(`198.51.100.${source}`));
    }
    expect(trail.records).toHaveLength(20);
    await audit.close();
    const written = summaries(trail.records);
    expect(written.length).toBeLessThanOrEqual(11);
    expect(written.find((summary) => summary.details?.sources === 'more than 10')).toMatchObject({ actor: {}, details: { refusals: 200 } });
    const counted = written.reduce((sum, summary) => sum + Number(summary.details!.suppressed), 0);
    expect(counted + 20).toBe(250);
  });

  it('counts nothing while the trail is unhealthy: the refusal goes to the trail, which refuses it', async () => {
    const audit = aggregate({ inFull: 0 });
    trail.setHealthy(false);
    await expect(audit.record(failure('192.0.2.1'))).rejects.toThrow('trail not writable');
    trail.setHealthy(true);
    await audit.record(failure('192.0.2.1'));
    await audit.close();
    expect(summaries(trail.records)).toEqual([expect.objectContaining({ details: expect.objectContaining({ refusals: 1, suppressed: 1 }) })]);
  });

  it('writes the summaries of the window still open when it closes', async () => {
    const audit = aggregate({ inFull: 1 });
    await audit.record(failure('192.0.2.1'));
    await audit.record(failure('192.0.2.1'));
    await audit.close();
    expect(summaries(trail.records)).toHaveLength(1);
  });
});

describe('a server under a flood of refused requests', () => {
  it('writes a bounded number of bytes to the trail, and its summaries account for every refusal', async () => {
    const server = await startTestServer({ MCP_RATE_LIMIT: '100' });
    const trailPath = join(server.auditDir, 'audit.jsonl');
    const before = statSync(trailPath).size;
    const statuses: number[] = [];
    const lane = async () => {
      for (let i = 0; i < 50; i += 1) {
        const response = await fetch(server.mcpUrl, {
          method: 'POST',
          headers: { ...MCP_POST_HEADERS, 'X-API-Key': `mcpg_live_wrong${i}`, 'User-Agent': `flood ${i}` },
          body: JSON.stringify(INITIALIZE),
        });
        statuses.push(response.status);
        await response.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
    const written = statSync(trailPath).size - before;
    await server.running.stop();

    const refused401 = statuses.filter((status) => status === 401).length;
    const refused429 = statuses.filter((status) => status === 429).length;
    expect(refused401 + refused429).toBe(400);
    expect(refused429).toBeGreaterThan(250); // the per-IP limit (100) and the lockout after 5 failures
    // Without aggregation every refusal is a record of about 550 bytes: 220 KB here.
    expect(written).toBeLessThan(16 * 1024);

    const records = readFileSync(trailPath, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; details?: Record<string, string | number> });
    const total = (type: string) =>
      records.filter((record) => record.type === type).length +
      records
        .filter((record) => record.type === 'audit.summary' && record.details?.summaryOf === type)
        .reduce((sum, record) => sum + Number(record.details!.suppressed), 0);
    // Each refusal is one record or one count: 401s and lockouts (429) as auth.failure, the per-IP limit as ratelimit.hit.
    expect(total('auth.failure') + total('ratelimit.hit')).toBe(400);
    expect(total('auth.failure')).toBeGreaterThanOrEqual(refused401);
    expect(verifyAuditDir(server.auditDir)[0]!.break).toBeUndefined();
    await server.stop();
  });
});
