import type { IncomingHttpHeaders } from 'node:http';

// Headers only a browser sends on its own: Origin and Referer, cookies, and the fetch metadata of
// every current browser. Node's fetch sends `Sec-Fetch-Mode: cors` alone, so that one does not count.
const BROWSER_HEADERS = ['origin', 'referer', 'cookie', 'sec-fetch-site', 'sec-fetch-dest', 'sec-fetch-user'] as const;

/**
 * True for a request a web page could have made: it carries `Origin`,
 * `Referer`, `Cookie` or browser fetch metadata (`Sec-Fetch-Site`,
 * `Sec-Fetch-Dest`, `Sec-Fetch-User`). Orchestrator probes, curl and SDK
 * clients send none of them. Browsers older than fetch metadata (before
 * Chrome 76, Firefox 90, Safari 16.4) can send a same-origin GET without any.
 */
export function isBrowserRequest(headers: IncomingHttpHeaders): boolean {
  return BROWSER_HEADERS.some((name) => headers[name] !== undefined);
}

/** How many `Host` headers a request carried (Node keeps only the first in `req.headers`). */
export function hostHeaderCount(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'host') count += 1;
  return count;
}
