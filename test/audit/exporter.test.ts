import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuditExporter } from '../../src/audit/exporter.js';
import { createJsonlAuditLogger } from '../../src/audit/jsonl-writer.js';
import { datadogSink, splunkSink, sumoSink, webhookSignature, webhookSink } from '../../src/audit/sinks/index.js';
import { tempDir } from '../helpers/server.js';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A local collector that records what it receives and answers `status()`. */
async function collector(status: () => number): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const code = status();
      if (code === 200) received.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(code).end(code === 200 ? '{"text":"Success","code":0}' : 'unavailable');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

async function writeEvents(dir: string, from: number, count: number) {
  const audit = createJsonlAuditLogger({ dir });
  for (let i = from; i < from + count; i += 1) await audit.record({ type: 'tool.call', action: `call ${i}`, outcome: { status: 'success' } });
  await audit.close();
}

const until = async (check: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('SIEM export', () => {
  it('speaks each collector’s format: Splunk HEC, Datadog Logs v2, Sumo Logic, signed webhook', async () => {
    const files = tempDir();
    await writeEvents(files.dir, 1, 3);
    const server = await collector(() => 200);
    const exporter = createAuditExporter({
      dir: files.dir,
      intervalMs: 20,
      sinks: [
        splunkSink({ url: `${server.url}/services/collector/event`, token: 'splunk-token' }),
        datadogSink({ url: `${server.url}/api/v2/logs`, apiKey: 'dd-key' }),
        sumoSink({ url: `${server.url}/receiver/v1/http/secret` }),
        webhookSink({ url: `${server.url}/hook`, secret: 'webhook-secret-0123456789abcdef' }),
      ],
    });
    await until(() => server.received.length >= 4);
    await exporter.stop();
    const by = (path: string) => server.received.find((item) => item.path.startsWith(path))!;

    const splunk = by('/services/collector/event');
    expect(splunk.headers.authorization).toBe('Splunk splunk-token');
    const hec = splunk.body.split('\n').map((line) => JSON.parse(line) as { time: number; sourcetype: string; event: { seq: number } });
    expect(hec.map((item) => item.event.seq)).toEqual([1, 2, 3]);
    expect(hec[0]).toMatchObject({ sourcetype: 'mcp-guard:audit', time: expect.any(Number) });

    const datadog = by('/api/v2/logs');
    expect(datadog.headers['dd-api-key']).toBe('dd-key');
    const logs = JSON.parse(datadog.body) as Array<{ ddsource: string; message: string }>;
    expect(logs).toHaveLength(3);
    expect(JSON.parse(logs[0]!.message)).toMatchObject({ seq: 1, type: 'tool.call' });

    const sumo = by('/receiver/v1/http/secret');
    expect(sumo.headers['x-sumo-category']).toBe('mcp-guard/audit');
    expect(sumo.body.split('\n')).toHaveLength(3);

    const hook = by('/hook');
    const timestamp = String(hook.headers['x-mcp-guard-timestamp']);
    expect(hook.headers['x-mcp-guard-signature']).toBe(`sha256=${webhookSignature('webhook-secret-0123456789abcdef', timestamp, hook.body)}`);
    expect((JSON.parse(hook.body) as { records: unknown[] }).records).toHaveLength(3);

    await server.close();
    files.remove();
  });

  it('loses nothing through a collector outage and delivers each record exactly once after it recovers', async () => {
    const files = tempDir();
    let up = true;
    const server = await collector(() => (up ? 200 : 503));
    const failures: number[] = [];
    const exporter = createAuditExporter({
      dir: files.dir,
      intervalMs: 20,
      backoffMs: 20,
      maxBackoffMs: 80,
      batchSize: 25,
      sinks: [sumoSink({ url: `${server.url}/sumo` })],
      onFailed: () => failures.push(Date.now()),
    });
    await writeEvents(files.dir, 1, 40);
    await until(() => server.received.reduce((n, item) => n + item.body.split('\n').length, 0) === 40);
    up = false;
    await writeEvents(files.dir, 41, 160);
    await until(() => failures.length >= 3);
    up = true;
    await until(() => server.received.reduce((n, item) => n + item.body.split('\n').length, 0) >= 200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await exporter.stop();
    const seqs = server.received.flatMap((item) => item.body.split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq));
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await server.close();
    files.remove();
  });

  it('bounds the spool: a sink too far behind skips the oldest records and reports how many', async () => {
    const files = tempDir();
    await writeEvents(files.dir, 1, 100);
    const server = await collector(() => 200);
    const overflow: number[] = [];
    const exporter = createAuditExporter({
      dir: files.dir,
      intervalMs: 20,
      spoolMaxBytes: 8 * 1024,
      sinks: [sumoSink({ url: `${server.url}/sumo` })],
      onOverflow: (_sink, records) => overflow.push(records),
    });
    const delivered = () => server.received.flatMap((item) => item.body.split('\n')).length;
    // Every record is either skipped (counted) or delivered: wait for that, not for a guessed delay.
    await until(() => overflow.length > 0 && overflow[0]! + delivered() === 100);
    await exporter.stop();
    expect(overflow[0]).toBeGreaterThan(0);
    expect(overflow[0]! + delivered()).toBe(100);
    await server.close();
    files.remove();
  });
});

describe('the reference server with a SIEM webhook configured', () => {
  it('ships its audit events to the collector, signed', async () => {
    const { startTestServer, TEST_TOKEN, connectClient } = await import('../helpers/server.js');
    const hook = await collector(() => 200);
    const server = await startTestServer({ MCP_SIEM_WEBHOOK_URL: `${hook.url}/hook`, MCP_SIEM_WEBHOOK_SECRET: 'webhook-secret-0123456789abcdef0123' });
    try {
      const { client, close } = await connectClient(server.mcpUrl, { Authorization: `Bearer ${TEST_TOKEN}` });
      await client.callTool({ name: 'echo', arguments: { message: 'to the siem' } });
      await close();
      await until(() =>
        hook.received.some((item) => (JSON.parse(item.body) as { records: Array<{ type: string }> }).records.some((r) => r.type === 'tool.call')),
      );
      const first = hook.received[0]!;
      const timestamp = String(first.headers['x-mcp-guard-timestamp']);
      expect(first.headers['x-mcp-guard-signature']).toBe(`sha256=${webhookSignature('webhook-secret-0123456789abcdef0123', timestamp, first.body)}`);
    } finally {
      await server.stop();
      await hook.close();
    }
  });
});

describe('a SIEM collector that hangs', () => {
  it('times the request out, retries, and delivers everything once it answers again, while the trail keeps being written', async () => {
    const files = tempDir();
    let hang = true;
    const received: string[] = [];
    const held: Array<() => void> = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        if (hang) {
          held.push(() => res.destroy());
          return; // never answers
        }
        received.push(...body.split('\n'));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sumo`;
    const failures: unknown[] = [];
    const exporter = createAuditExporter({
      dir: files.dir,
      intervalMs: 20,
      backoffMs: 20,
      maxBackoffMs: 50,
      timeoutMs: 100,
      sinks: [sumoSink({ url })],
      onFailed: (_sink, error) => failures.push(error),
    });
    const started = Date.now();
    await writeEvents(files.dir, 1, 30); // the writer is never held up by the exporter
    expect(Date.now() - started).toBeLessThan(2_000);
    await until(() => failures.length >= 2);
    hang = false;
    await until(() => received.length >= 30);
    await exporter.stop();
    for (const release of held) release();
    expect(received.map((line) => (JSON.parse(line) as { seq: number }).seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    files.remove();
  });
});
