import { readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INITIALIZE, MCP_POST_HEADERS, startTestServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { eventually } from '../credentials/helpers.js';

const initialize = (server: TestServer) =>
  fetch(server.mcpUrl, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${TEST_TOKEN}` },
    body: JSON.stringify(INITIALIZE),
  });
const ready = async (server: TestServer) => {
  const response = await fetch(`${server.url}/ready`);
  return { status: response.status, body: (await response.json()) as { checks: { audit: { status: string } } } };
};
const trailText = (server: TestServer) => readFileSync(join(server.auditDir, 'audit.jsonl'), 'utf8');

describe('readiness while the audit trail cannot be written', () => {
  let server: TestServer;
  afterEach(async () => {
    await server.stop();
  });

  it('answers /ready 503 once the audit directory reaches its budget, refuses requests, and recovers when space is freed', async () => {
    server = await startTestServer({ MCP_AUDIT_MAX_DIR_SIZE: '1mb' });
    expect((await ready(server)).status).toBe(200);
    const filler = join(server.auditDir, 'filler.bin');
    writeFileSync(filler, Buffer.alloc(1024 * 1024));

    expect(await eventually(async () => (await ready(server)).status === 503, 5_000)).toBe(true);
    expect((await ready(server)).body.checks.audit.status).toBe('down');
    const refused = await initialize(server);
    expect(refused.status).toBe(503);
    expect(await refused.text()).not.toContain(server.auditDir);
    expect(trailText(server)).toContain('"audit.budget_reached"');
    const metrics = await server.running.guard.metrics.registry.metrics();
    expect(metrics).toMatch(/^mcp_guard_audit_budget_exceeded 1$/m);
    expect(metrics).toMatch(/^mcp_guard_audit_dir_budget_bytes 1048576$/m);

    rmSync(filler);
    expect(await eventually(async () => (await ready(server)).status === 200, 5_000)).toBe(true);
    const again = await initialize(server);
    expect(again.status).toBe(200);
    await again.text();
    expect(trailText(server)).toContain('"audit.resumed"');
  });

  it('answers /ready 503 while writes fail with ENOSPC although the file still opens, and recovers', async () => {
    server = await startTestServer({ MCP_RATE_LIMIT: '2' });
    const trail = join(server.auditDir, 'audit.jsonl');
    renameSync(trail, `${trail}.saved`);
    symlinkSync('/dev/full', trail); // opens fine, every write fails with ENOSPC: a full disk

    expect((await initialize(server)).status).toBe(503);
    const down = await ready(server);
    expect(down.status).toBe(503);
    expect(down.body.checks.audit.status).toBe('down');
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    // A rate-limit refusal grants nothing: it is still sent while its record cannot be written.
    expect((await initialize(server)).status).toBe(503);
    expect((await initialize(server)).status).toBe(429);

    rmSync(trail);
    renameSync(`${trail}.saved`, trail);
    expect(await eventually(async () => (await ready(server)).status === 200, 5_000)).toBe(true);
    expect(trailText(server)).toContain('"audit.resumed"');
  });
});
