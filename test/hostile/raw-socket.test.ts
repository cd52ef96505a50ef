import { TEST_TOKEN } from '../helpers/server.js';
import { rawSocket, startHostileServer, statusOf } from './helpers.js';

const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
// The server below has 1 s header and request timeouts. Node enforces them when it checks its
// connections, which the server does every second: a slow client is cut off within about a second
// of the limit, so within 2 s, plus slack for a busy machine.
const CUT_OFF_MS = 2_500;
const head = (extra: string) =>
  `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n${extra}`;

describe('raw bytes over TCP: smuggling shapes and slow clients', () => {
  let hostile: Awaited<ReturnType<typeof startHostileServer>>;
  beforeAll(async () => {
    hostile = await startHostileServer({ MCP_HEADERS_TIMEOUT: '1s', MCP_REQUEST_TIMEOUT: '1s' });
  });
  afterAll(async () => {
    await hostile.stop();
  });

  const smuggling: Array<[string, string]> = [
    ['two conflicting Content-Length headers', head(`Content-Length: ${body.length}\r\nContent-Length: 5\r\n\r\n${body}`)],
    [
      'Content-Length together with Transfer-Encoding',
      head(`Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n`),
    ],
    ['an obs-folded header', head(`X-Folded: a\r\n b\r\nContent-Length: ${body.length}\r\n\r\n${body}`)],
    [
      'bare LF line endings',
      `POST /mcp HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nContent-Length: ${body.length}\n\n${body}`,
    ],
    ['a space before the colon', head(`Content-Length : ${body.length}\r\n\r\n${body}`)],
    ['Transfer-Encoding chunked, identity', head(`Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`)],
    ['a negative Content-Length', head(`Content-Length: -1\r\n\r\n${body}`)],
    ['a bad chunk size', head(`Transfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`)],
    ['a header value with a bare CR', head(`X-Injected: a\rSet-Cookie: x=1\r\nContent-Length: ${body.length}\r\n\r\n${body}`)],
    ['a NUL in a header value', head(`X-Nul: a\u0000b\r\nContent-Length: ${body.length}\r\n\r\n${body}`)],
    ['an HTTP/9 request', `GET /health HTTP/9.9\r\nHost: x\r\n\r\n`],
  ];

  it.each(smuggling)('answers %s with 400 and closes the connection', async (_name, bytes) => {
    const { text, closed } = await rawSocket(hostile.port, [bytes], { limitMs: 3_000 });
    expect(statusOf(text)).toBe(400);
    expect(closed).toBe(true);
    // Exactly one response: nothing smuggled behind the first request was answered.
    expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(text).not.toContain('# HELP');
  });

  it('times out a client that sends its headers one byte at a time', async () => {
    const request = `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`;
    const { text, closed, elapsedMs } = await rawSocket(hostile.port, [...request], { gapMs: 100, limitMs: 8_000 });
    expect(closed).toBe(true);
    expect(elapsedMs).toBeLessThan(CUT_OFF_MS);
    expect([0, 408]).toContain(statusOf(text));
  });

  it('times out a client that trickles its body', async () => {
    const slow = head(`Content-Length: ${body.length}\r\n\r\n`);
    const { text, closed, elapsedMs } = await rawSocket(hostile.port, [slow, ...body], { gapMs: 200, limitMs: 8_000 });
    expect(closed).toBe(true);
    expect(elapsedMs).toBeLessThan(CUT_OFF_MS);
    expect(text).not.toMatch(/HTTP\/1\.1 5\d\d/);
    expect([0, 400, 408]).toContain(statusOf(text));
  });

  it('times out a client that promises a body and never sends it', async () => {
    const { text, closed, elapsedMs } = await rawSocket(hostile.port, [head('Content-Length: 100\r\n\r\n{')], { limitMs: 8_000 });
    expect(closed).toBe(true);
    expect(elapsedMs).toBeLessThan(CUT_OFF_MS);
    expect(text).not.toMatch(/HTTP\/1\.1 5\d\d/);
  });

  it('still serves others while slow clients wait', async () => {
    const slow = rawSocket(hostile.port, ['GET /health HTTP/1.1\r\n'], { limitMs: 3_000 });
    const response = await fetch(`${hostile.server.url}/health`);
    expect(response.status).toBe(200);
    await slow;
  });
});
