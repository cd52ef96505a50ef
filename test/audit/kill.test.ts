import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyAuditDir } from '../../src/audit/verify.js';
import { startProcess } from '../helpers/process.js';
import { MCP_POST_HEADERS, TEST_TOKEN, tempDir } from '../helpers/server.js';

describe('the audit trail when the process is killed', () => {
  it('holds the event of every answered request after a SIGKILL under load, and the chain verifies', async () => {
    const files = tempDir();
    const server = await startProcess({
      MCP_AUTH_TOKEN: TEST_TOKEN,
      MCP_AUDIT_DIR: files.dir,
      MCP_SESSION_MODE: 'stateless',
      MCP_JSON_RESPONSE: 'true',
      MCP_RATE_LIMIT: '1000000',
      MCP_RATE_LIMIT_PRINCIPAL: '1000000',
      MCP_RATE_LIMIT_PRINCIPAL_BURST: '100000',
      MCP_RATE_LIMIT_TOOL: '1000000',
      MCP_RATE_LIMIT_TOOL_BURST: '100000',
    });
    const answered: string[] = [];
    let stop = false;
    // Kill once 60 calls were answered, however long that takes on this machine (no fixed sleep).
    let enough: () => void = () => undefined;
    const enoughAnswered = new Promise<void>((resolve) => (enough = resolve));
    const worker = async (lane: number) => {
      for (let n = 0; !stop; n += 1) {
        const message = `lane${lane}-call${n}`;
        try {
          const response = await fetch(server.mcpUrl, {
            method: 'POST',
            headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${TEST_TOKEN}`, 'X-Request-ID': message },
            body: JSON.stringify({ jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'echo', arguments: { message } } }),
          });
          const body = await response.text();
          if (response.status === 200 && body.includes(message) && answered.push(message) >= 60) enough();
        } catch {
          return; // the process is gone
        }
      }
    };
    const lanes = Array.from({ length: 8 }, (_, lane) => worker(lane));
    await enoughAnswered;
    server.child.kill('SIGKILL');
    stop = true;
    await Promise.all(lanes);
    await server.exited;

    expect(answered.length).toBeGreaterThan(50);
    const recorded = new Set(
      readFileSync(join(files.dir, 'audit.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { type: string; context?: { requestId?: string } })
        .filter((event) => event.type === 'tool.call')
        .map((event) => event.context?.requestId),
    );
    const missing = answered.filter((id) => !recorded.has(id));
    expect(missing).toEqual([]);
    const [report] = verifyAuditDir(files.dir);
    expect(report!.break).toBeUndefined();
    files.remove();
  }, 30_000);
});
