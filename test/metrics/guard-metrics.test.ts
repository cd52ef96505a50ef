import { createGuardMetrics } from '../../src/metrics/guard-metrics.js';
import client from 'prom-client';
import { boundLabels, methodLabel } from '../../src/metrics/labels.js';
import { MCP_POST_HEADERS, startTestServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';

async function seriesOf(metrics: ReturnType<typeof createGuardMetrics>, name: string): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  return metric?.values.length ?? 0;
}

describe('metric labels', () => {
  it('collapse 30,000 distinct JSON-RPC method names into one series', async () => {
    const metrics = createGuardMetrics({ collectDefaults: false });
    for (let i = 0; i < 30_000; i += 1) metrics.authzDenials.inc({ method: `evil/${i}`, tool: '', permission: 'undeclared' });
    metrics.authzDenials.inc({ method: 'tools/list', tool: '', permission: 'tools:list' });
    expect(await seriesOf(metrics, 'mcp_guard_authz_denials_total')).toBe(2);
    const text = await metrics.registry.metrics();
    expect(text).toContain('method="other"');
    expect(text).toContain('method="tools/list"');
    expect(text).not.toContain('evil/');
  });

  it('name only declared tools, whichever method a caller uses', async () => {
    const metrics = createGuardMetrics({ collectDefaults: false, tools: ['echo'] });
    metrics.toolCalls.inc({ tool: 'echo', outcome: 'success' });
    for (let i = 0; i < 1000; i += 1) {
      metrics.toolCalls.labels({ tool: `made-up-${i}`, outcome: 'success' }).inc();
      metrics.rateLimitHits.inc({ scope: 'tool', tool: `made-up-${i}` });
      metrics.toolDuration.startTimer({ tool: `made-up-${i}` })();
    }
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('made-up');
    expect(await seriesOf(metrics, 'mcp_guard_tool_calls_total')).toBe(2);
    expect(await seriesOf(metrics, 'mcp_guard_rate_limit_hits_total')).toBe(1);
  });

  it('keep every other label within a few dozen values, stripped of control characters', async () => {
    const metrics = createGuardMetrics({ collectDefaults: false });
    for (let i = 0; i < 5000; i += 1) {
      metrics.authAttempts.inc({ method: `m${i}`, outcome: `reason-${i}` });
      metrics.credentialEvents.inc({ event: `e${i}`, outcome: 'x' });
      metrics.httpRequests.inc({ method: `VERB${i}`, route: `/r/${i}`, status: i % 2 ? '200' : `x${i}` });
    }
    metrics.auditEvents.inc({ type: 'bad\u001b[31m\ntype' });
    expect(await seriesOf(metrics, 'mcp_guard_auth_attempts_total')).toBeLessThanOrEqual(17 * 65);
    expect(await seriesOf(metrics, 'mcp_guard_credential_events_total')).toBeLessThanOrEqual(33);
    expect(await seriesOf(metrics, 'mcp_guard_http_requests_total')).toBeLessThanOrEqual(8 * 33 * 2);
    expect(await metrics.registry.metrics()).toContain('type="bad[31mtype"');
  });

  it('map a method to itself only when the MCP specification defines it', () => {
    expect(methodLabel('tools/call')).toBe('tools/call');
    expect(methodLabel('notifications/initialized')).toBe('notifications/initialized');
    expect(methodLabel('toString')).toBe('other');
    expect(methodLabel('tools/call\n')).toBe('other');
    expect(methodLabel(undefined)).toBe('none');
    expect(methodLabel(42)).toBe('none');
  });
});

describe('a server under a flood of made-up JSON-RPC methods', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_SESSION_MODE: 'stateless', MCP_RATE_LIMIT: '100000', MCP_RATE_LIMIT_PRINCIPAL: '0' });
  });
  afterAll(() => server.stop());

  it('exposes no method name it did not define', async () => {
    for (let i = 0; i < 200; i += 1) {
      const response = await fetch(server.mcpUrl, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${TEST_TOKEN}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: i, method: `made/up/${i}`, params: {} }),
      });
      expect(response.status).toBe(403);
      await response.text();
    }
    const text = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })).text();
    expect(text).not.toContain('made/up');
    expect(text.match(/^mcp_guard_authz_denials_total\{/gm)).toHaveLength(1);
  });
});

describe('boundLabels without explicit bounds (what GuardMetrics applies to any metric it lists)', () => {
  it('keeps at most 64 values per label', async () => {
    const registry = new client.Registry();
    const counter = boundLabels(new client.Counter({ name: 'x_total', help: 'x', labelNames: ['who'], registers: [registry] }), ['who']);
    for (let i = 0; i < 500; i += 1) counter.inc({ who: `client-${i}` });
    const [metric] = await registry.getMetricsAsJSON();
    expect(metric!.values).toHaveLength(65);
    expect(await registry.metrics()).toContain('who="other"} 436');
  });
});
