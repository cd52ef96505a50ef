import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { Readable } from 'node:stream';

/** Why an outgoing request was refused before or while it was made. */
export class FetchRefusedError extends Error {
  readonly reason: 'address_not_allowed' | 'scheme_not_allowed' | 'too_large' | 'timeout' | 'failed';
  constructor(reason: FetchRefusedError['reason']) {
    super(`outgoing request refused: ${reason}`);
    this.name = 'FetchRefusedError';
    this.reason = reason;
  }
}

// Addresses no public client document lives at: private, shared, link-local (cloud metadata at
// 169.254.169.254), multicast, reserved, documentation and translation ranges. Loopback is separate.
const SPECIAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  SPECIAL.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  SPECIAL.addSubnet(net, bits, 'ipv6');
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** `public`, `loopback` or `private` (everything else that is not globally routable). */
export function classifyAddress(address: string): 'public' | 'loopback' | 'private' {
  let bare = address.replace(/^\[|\]$/g, '').toLowerCase();
  // IPv4-mapped and IPv4-compatible IPv6 addresses are judged as the IPv4 address they carry.
  const mapped = /^::(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped) bare = mapped[1]!;
  const family = isIP(bare);
  if (family === 0) return 'private';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (LOOPBACK.check(bare, type)) return 'loopback';
  if (family === 6 && /^::ffff:/.test(bare)) return 'private'; // mapped, in hex form
  return SPECIAL.check(bare, type) ? 'private' : 'public';
}

/** Options of {@link createSafeFetch}. */
export interface SafeFetchOptions {
  /** Loopback addresses allowed (development). Default false. */
  allowLoopback?: boolean;
  /** Private addresses allowed (an operator-configured upstream inside the network). Default false. */
  allowPrivate?: boolean;
  /** Plain `http:` allowed, for loopback targets only. Default false. */
  allowHttpLoopback?: boolean;
  /** Extra trusted CA certificates (PEM) for `https:`. */
  ca?: string;
  /** Most bytes read from a response body. Default 64 KiB. */
  maxBytes?: number;
  /** Whole-request deadline. Default 2500 ms. */
  timeoutMs?: number;
}

type FetchInit = {
  method?: string;
  headers?: ConstructorParameters<typeof Headers>[0];
  body?: string | URLSearchParams | null;
  signal?: AbortSignal | null;
};

/**
 * A `fetch` for requests an unauthenticated client can make the server send
 * (Client ID Metadata Documents) or that go to the upstream identity provider:
 * the resolved address is checked (no private, link-local or loopback address
 * unless allowed) on the connection actually made, so DNS rebinding between
 * check and connect does not help; IP literals are checked too. No redirects,
 * a deadline and a byte cap on the body.
 *
 * @example const fetchDocument = createSafeFetch({ maxBytes: 5120 });
 */
export function createSafeFetch(options: SafeFetchOptions = {}): (url: string | URL, init?: FetchInit) => Promise<Response> {
  const { allowLoopback = false, allowPrivate = false, allowHttpLoopback = false, ca, maxBytes = 64 * 1024, timeoutMs = 2500 } = options;
  const allowed = (address: string): boolean => {
    const kind = classifyAddress(address);
    return kind === 'public' || (kind === 'loopback' && allowLoopback) || (kind === 'private' && allowPrivate);
  };
  // Every address a name resolves to must be allowed: a name with one public and one private
  // address could otherwise be steered to the private one.
  const lookup = (hostname: string, opts: object, callback: (...args: unknown[]) => void): void => {
    dnsLookup(hostname, { ...opts, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error);
      if (!addresses.length || !addresses.every((entry) => allowed(entry.address)))
        return callback(new FetchRefusedError('address_not_allowed'));
      const all = (opts as { all?: boolean }).all;
      return all ? callback(null, addresses) : callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };

  return async function safeFetch(input, init = {}) {
    const url = new URL(String(input));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const literal = isIP(host) !== 0;
    if (literal && !allowed(host)) throw new FetchRefusedError('address_not_allowed');
    const loopbackTarget = literal ? classifyAddress(host) === 'loopback' : host === 'localhost';
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowHttpLoopback && loopbackTarget))
      throw new FetchRefusedError('scheme_not_allowed');
    const headers = new Headers(init.headers);
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    if (body !== undefined && init.body instanceof URLSearchParams && !headers.has('content-type'))
      headers.set('content-type', 'application/x-www-form-urlencoded');
    const signal = init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;

    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(
        url,
        {
          method: init.method ?? 'GET',
          headers: Object.fromEntries(headers),
          lookup: lookup as never,
          signal,
          ...(ca ? { ca } : {}),
        },
        resolve,
      );
      req.on('error', (error) =>
        reject(error instanceof FetchRefusedError ? error : new FetchRefusedError(signal.aborted ? 'timeout' : 'failed')),
      );
      req.end(body);
    });
    const declared = Number(response.headers['content-length'] ?? 0);
    if (declared > maxBytes) {
      response.destroy();
      throw new FetchRefusedError('too_large');
    }
    let received = 0;
    const capped = new Readable({ read() {} });
    response.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) {
        response.destroy();
        capped.destroy(new FetchRefusedError('too_large'));
        return;
      }
      capped.push(chunk);
    });
    response.on('end', () => capped.push(null));
    response.on('error', () => capped.destroy(new FetchRefusedError(signal.aborted ? 'timeout' : 'failed')));
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) responseHeaders.append(name, item);
    }
    const status = response.statusCode ?? 502;
    const nullBody = status === 204 || status === 304 || (init.method ?? 'GET') === 'HEAD';
    return new Response(nullBody ? null : (Readable.toWeb(capped) as ReadableStream), {
      status: status < 200 || status > 599 ? 502 : status,
      headers: responseHeaders,
    });
  };
}
