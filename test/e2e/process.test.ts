import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToExit, startProcess } from '../helpers/process.js';
import { TEST_TOKEN, startTestServer, tempDir } from '../helpers/server.js';

describe('the mcp-guard process', () => {
  it('drains on SIGTERM: open SSE streams end, the audit is flushed, and it exits 0', async () => {
    const audit = tempDir();
    const started = await startProcess({ MCP_AUTH_TOKEN: TEST_TOKEN, MCP_AUDIT_DIR: audit.dir, MCP_SHUTDOWN_TIMEOUT: '3s' });
    try {
      const auth = { Authorization: `Bearer ${TEST_TOKEN}` };
      expect((await fetch(`${started.url}/ready`)).status).toBe(200);
      const live = await fetch(`${started.url}/metrics/live`, { headers: auth });
      expect(live.status).toBe(200);
      const streamDone = live.text();

      const begin = Date.now();
      started.child.kill('SIGTERM');
      await streamDone; // the server closed the stream
      expect(await started.exited).toBe(0);
      expect(Date.now() - begin).toBeLessThan(5_000);

      const events = readFileSync(join(audit.dir, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean);
      expect(events.some((line) => line.includes('"config.loaded"'))).toBe(true);
      expect(events.some((line) => line.includes('"auth.success"'))).toBe(true);
      expect(started.lines.join('\n')).not.toContain(TEST_TOKEN);
    } finally {
      started.child.kill('SIGKILL');
      audit.remove();
    }
  });

  it('reports 503 on /ready while it drains, and 200 on /health until it stops', async () => {
    const server = await startTestServer();
    try {
      expect((await fetch(`${server.url}/ready`)).status).toBe(200);
      const draining = server.running.guard.drain(Date.now() + 1_000);
      const ready = await fetch(`${server.url}/ready`);
      expect(ready.status).toBe(503);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      await draining;
    } finally {
      await server.stop();
    }
  });

  it('prints a posture summary with warnings for risky settings and never the secrets', async () => {
    const audit = tempDir();
    const started = await startProcess({
      MCP_AUTH_TOKEN: TEST_TOKEN,
      MCP_AUDIT_DIR: audit.dir,
      MCP_CORS_ORIGINS: '*',
      MCP_TRUST_PROXY: 'true',
    });
    try {
      const output = started.lines.join('\n');
      expect(output).toContain('security posture');
      expect(output).toContain('MCPG_CORS_WILDCARD');
      expect(output).toContain('MCPG_TRUST_PROXY_ALL');
      expect(output).not.toContain(TEST_TOKEN);
    } finally {
      started.child.kill('SIGTERM');
      await started.exited;
      audit.remove();
    }
  });

  it('refuses to start on a bad configuration, listing every problem without echoing secrets', async () => {
    const { code, output } = await runToExit({ MCP_PORT: 'not-a-port', MCP_AUTH_TOKEN: 'short-secret', MCP_RATE_LIMIT: '-3' });
    expect(code).not.toBe(0);
    expect(output).toContain('MCP_PORT');
    expect(output).toContain('MCP_AUTH_TOKEN');
    expect(output).toContain('MCP_RATE_LIMIT');
    expect(output).not.toContain('short-secret');
  });

  it('refuses to bind a non-loopback address in development mode', async () => {
    const { code, output } = await runToExit({ MCP_PORT: '0', MCP_HOST: '0.0.0.0' });
    expect(code).not.toBe(0);
    expect(output).toContain('MCP_ALLOW_INSECURE');
  });
});
