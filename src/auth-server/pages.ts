import { createHash } from 'node:crypto';
import type { Response } from 'express';

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}' +
  'h1{font-size:1.4rem}code{background:#f2f2f2;padding:0 .25rem;word-break:break-all}' +
  '.warn{background:#fff4ce;border-left:4px solid #c80;padding:.5rem 1rem}ul{padding-left:1.2rem}' +
  'button{font:inherit;padding:.5rem 1.2rem;margin-right:.5rem;cursor:pointer}.muted{color:#555}';
const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Writes a page with a CSP that allows its one stylesheet and nothing else (no script at all). */
export function sendPage(res: Response, status: number, title: string, body: string): void {
  res.status(status);
  res.setHeader('Content-Security-Policy', `default-src 'none'; style-src ${STYLE_HASH}; frame-ancestors 'none'; base-uri 'none'`);
  res.setHeader('Cache-Control', 'no-store');
  res
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
        `<meta name="referrer" content="same-origin"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>` +
        `<body>${body}</body></html>`,
    );
}

/** What the consent page shows: every value comes from the client or the sign-in and is escaped here. */
export interface ConsentView {
  action: string;
  csrf: string;
  clientName: string | undefined;
  /** How the client identified itself: its metadata document's origin, or how it was registered. */
  clientOrigin: string;
  clientKind: 'metadata-document' | 'registered-dynamically' | 'pre-registered';
  redirectUri: string;
  /** Scope -> description, for the scopes asked for. */
  scopes: Array<{ name: string; description: string; granted: boolean }>;
  user: string;
  role: string;
  tenant: string | undefined;
}

const KIND_TEXT: Record<ConsentView['clientKind'], string> = {
  'metadata-document': 'identified by its client metadata document at',
  'registered-dynamically': 'registered itself with this server (unverified); it names its site as',
  'pre-registered': 'pre-registered by the operator as',
};

/** The consent page: the client's name, origin and redirect host, and the scopes it asks for. */
export function renderConsent(view: ConsentView): string {
  const redirect = new URL(view.redirectUri);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(redirect.hostname);
  const scopes = view.scopes.length
    ? view.scopes
        .map(
          (scope) =>
            `<li><code>${escapeHtml(scope.name)}</code> ${escapeHtml(scope.description)}` +
            (scope.granted ? '' : ' <span class="muted">(not granted: your role does not include it)</span>') +
            '</li>',
        )
        .join('')
    : '<li>no scopes: only what your role allows without any</li>';
  return (
    `<h1>Allow ${escapeHtml(view.clientName ?? 'an unnamed client')} to use this MCP server?</h1>` +
    `<p>The client ${KIND_TEXT[view.clientKind]} <code>${escapeHtml(view.clientOrigin)}</code>.</p>` +
    `<p>After you decide, your browser goes to <code>${escapeHtml(redirect.host)}</code> ` +
    `(<code>${escapeHtml(view.redirectUri)}</code>).</p>` +
    (loopback
      ? '<p class="warn">This client receives the answer on your own computer (a localhost address). Any program on ' +
        'this computer could claim that name: allow only if you just started this sign-in from a client you trust.</p>'
      : '') +
    `<p>It asks for:</p><ul>${scopes}</ul>` +
    `<p class="muted">Signed in as ${escapeHtml(view.user)}, role <code>${escapeHtml(view.role)}</code>` +
    (view.tenant ? `, tenant <code>${escapeHtml(view.tenant)}</code>` : '') +
    '.</p>' +
    `<form method="post" action="${escapeHtml(view.action)}">` +
    `<input type="hidden" name="csrf" value="${escapeHtml(view.csrf)}">` +
    '<button type="submit" name="decision" value="allow" id="allow">Allow</button>' +
    '<button type="submit" name="decision" value="deny" id="deny">Deny</button></form>'
  );
}

/** A plain error page for the person in the browser: a fixed message, never internals. */
export function renderError(message: string): string {
  return `<h1>Sign-in could not continue</h1><p>${escapeHtml(message)}</p><p>Start again from your MCP client.</p>`;
}
