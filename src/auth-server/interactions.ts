import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import type { default as ProviderClass } from 'oidc-provider';
import type { AuditLogger } from '../audit/types.js';
import { requestActor } from '../middleware/context.js';
import type { RoleResolver } from '../middleware/auth/verifier.js';
import type { StateStore } from '../stores/types.js';
import { mapIdentity, type IdentityMap } from './identity-map.js';
import { renderConsent, renderError, sendPage, type ConsentView } from './pages.js';
import { accountIdOf, LIMITS, STORE_PREFIX, type Accounts } from './provider.js';
import { describeScope, grantableScopes } from './scopes.js';
import type { UpstreamChecks, UpstreamClient } from './upstream.js';

/** Options of {@link createInteractionRoutes}. */
export interface InteractionRoutesOptions {
  /** The current provider (it is rebuilt when the signing keys are reloaded). */
  provider: () => ProviderClass;
  upstream: UpstreamClient;
  upstreamIssuer: string;
  /** Our callback registered at the upstream provider. */
  callbackUrl: string;
  identityMap: IdentityMap;
  accounts: Accounts;
  resolveRole: RoleResolver;
  resource: string;
  store: StateStore;
  audit: AuditLogger;
  /** Key for the consent form's CSRF token. */
  csrfKey: string;
}

interface Pending {
  uid: string;
  checks: UpstreamChecks;
}

const UID = /^[A-Za-z0-9_-]{10,64}$/;

/**
 * The pages a person sees: `GET /auth/interaction/:uid` sends them to the
 * upstream identity provider (login) or shows the consent page; the upstream
 * returns to `GET /auth/callback`, which hands the answer back to the browser
 * that holds the interaction cookie (`/auth/interaction/:uid/callback`), so a
 * sign-in cannot be completed in someone else's browser (login CSRF). The
 * upstream identity becomes a role and tenant through the identity mapping; no
 * rule, no access. Every failure is `access_denied` to the client (with `iss`)
 * or a fixed page, never internals.
 */
/** Mounted at `/auth`. */
export function createInteractionRoutes(options: InteractionRoutesOptions): Router {
  const { upstream, identityMap, accounts, resolveRole, resource, store, audit, csrfKey } = options;
  const router = Router();
  // The library derives its mount path from the request; these pages sit under the same root as its routes.
  const issuerUrl = new URL(options.callbackUrl);
  const asRoot = (req: Request) => {
    req.url = req.originalUrl;
    req.baseUrl = '';
    req.headers['x-forwarded-proto'] = issuerUrl.protocol.slice(0, -1);
    req.headers['x-forwarded-host'] = issuerUrl.host;
    req.headers['x-forwarded-for'] = req.ip ?? '';
    return req;
  };
  const provider = {
    interactionDetails: (req: Request, res: Response) => options.provider().interactionDetails(asRoot(req), res),
    interactionFinished: (
      req: Request,
      res: Response,
      result: Parameters<ProviderClass['interactionFinished']>[2],
      opts: { mergeWithLastSubmission: boolean },
    ) => options.provider().interactionFinished(asRoot(req), res, result, opts),
    get Client() {
      return options.provider().Client;
    },
    get Grant() {
      return options.provider().Grant;
    },
  };
  const form = express.urlencoded({ extended: false, limit: '2kb', parameterLimit: 5 });
  const csrfOf = (uid: string) => createHmac('sha256', csrfKey).update(`consent:${uid}`).digest('base64url');
  const pendingKey = (state: string) => `${STORE_PREFIX}upstream:${state}`;

  const fail = (res: Response, status: number, message: string) =>
    sendPage(res, status, 'Sign-in could not continue', renderError(message));
  const deny = async (req: Request, res: Response, description: string) => {
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: description },
      { mergeWithLastSubmission: false },
    );
  };
  const record = (
    req: Request,
    type: 'auth.success' | 'auth.failure',
    principalId: string | undefined,
    details: Record<string, unknown>,
  ) => {
    const { actor, context } = requestActor(req);
    return audit.record({
      type,
      action: 'sign-in',
      actor: { ...actor, ...(principalId ? { principalId } : {}), authMethod: 'oauth' },
      context,
      outcome: type === 'auth.success' ? { status: 'success' } : { status: 'denied', code: 'access_denied' },
      details: details as Record<string, string | number | boolean | null>,
    });
  };

  router.get('/interaction/:uid', async function interaction(req, res) {
    const details = await provider.interactionDetails(req, res).catch(() => undefined);
    if (!details || details.uid !== req.params.uid) return fail(res, 400, 'This sign-in has expired or was started in another browser.');
    if (details.prompt.name === 'login') {
      const { url, checks } = await upstream.start();
      const pending: Pending = { uid: details.uid, checks };
      await store.set(pendingKey(checks.state), JSON.stringify(pending), LIMITS.interactionTtlSec * 1000);
      return res.redirect(303, url.href);
    }
    if (details.prompt.name !== 'consent') return fail(res, 400, 'This sign-in cannot continue.');
    const accountId = details.session?.accountId;
    const account = accountId ? await accounts.find(accountId) : undefined;
    const client = await provider.Client.find(String(details.params.client_id));
    if (!account || !client) return fail(res, 400, 'This sign-in has expired.');
    const requested = (details.prompt.details.missingResourceScopes as Record<string, string[]> | undefined)?.[resource] ?? [];
    const granted = new Set(grantableScopes(requested, resolveRole(account.role) ?? []));
    const metadata = client.metadata() as { client_id: string; client_name?: string; client_uri?: string };
    const kind: ConsentView['clientKind'] = (client as unknown as { clientIdMetadataDocument?: boolean }).clientIdMetadataDocument
      ? 'metadata-document'
      : (client as unknown as { staticClient?: boolean }).staticClient
        ? 'pre-registered'
        : 'registered-dynamically';
    const view: ConsentView = {
      action: `/auth/interaction/${details.uid}/confirm`,
      csrf: csrfOf(details.uid),
      clientName: metadata.client_name,
      clientOrigin:
        kind === 'metadata-document'
          ? new URL(metadata.client_id).origin
          : (metadata.client_uri ?? (kind === 'pre-registered' ? metadata.client_id : 'no site named')),
      clientKind: kind,
      redirectUri: String(details.params.redirect_uri),
      scopes: requested.map((name) => ({ name, description: describeScope(name), granted: granted.has(name) })),
      user: account.label,
      role: account.role,
      tenant: account.tenant,
    };
    return sendPage(res, 200, 'Allow access?', renderConsent(view));
  });

  // The upstream provider's redirect: find the interaction it belongs to and send the browser there.
  router.get('/callback', async function upstreamCallback(req, res) {
    const state = typeof req.query.state === 'string' && req.query.state.length <= 128 ? req.query.state : undefined;
    const raw = state ? await store.get(pendingKey(state)) : undefined;
    if (!raw) return fail(res, 400, 'This sign-in has expired or was already used.');
    const { uid } = JSON.parse(raw) as Pending;
    const query = new URL(req.originalUrl, 'http://x').search;
    return res.redirect(303, `/auth/interaction/${uid}/callback${query}`);
  });

  router.get('/interaction/:uid/callback', async function finishLogin(req, res) {
    const details = await provider.interactionDetails(req, res).catch(() => undefined);
    const state = typeof req.query.state === 'string' && req.query.state.length <= 128 ? req.query.state : '';
    const raw = state ? await store.get(pendingKey(state)) : undefined;
    const pending = raw ? (JSON.parse(raw) as Pending) : undefined;
    if (!details || !pending || details.uid !== pending.uid || details.prompt.name !== 'login' || !UID.test(details.uid))
      return fail(res, 400, 'This sign-in has expired or was started in another browser.');
    // One use per upstream answer, across replicas.
    if (!(await store.setIfAbsent(`${pendingKey(state)}:used`, '1', LIMITS.interactionTtlSec * 1000)))
      return fail(res, 400, 'This sign-in was already used.');
    await store.delete(pendingKey(state));
    if (typeof req.query.error === 'string') {
      await record(req, 'auth.failure', undefined, { reason: 'upstream_error' });
      return deny(req, res, 'The identity provider did not sign you in');
    }
    let claims;
    try {
      const callback = new URL(options.callbackUrl);
      callback.search = new URL(req.originalUrl, 'http://x').search;
      claims = await upstream.finish(callback, pending.checks);
    } catch {
      await record(req, 'auth.failure', undefined, { reason: 'upstream_rejected' });
      return deny(req, res, 'The identity provider answer could not be verified');
    }
    const accountId = accountIdOf(options.upstreamIssuer, claims.sub);
    const mapped = mapIdentity(claims, identityMap);
    if (!mapped.ok || !resolveRole(mapped.role)) {
      await record(req, 'auth.failure', `oauth:${accountId}`, { reason: mapped.ok ? 'unknown_role' : mapped.reason });
      return deny(req, res, 'Your account has no access to this server');
    }
    const label =
      claims.email_verified === true && typeof claims.email === 'string' ? claims.email : `${claims.sub} at ${options.upstreamIssuer}`;
    await accounts.save(accountId, { role: mapped.role, ...(mapped.tenant ? { tenant: mapped.tenant } : {}), label: label.slice(0, 256) });
    await record(req, 'auth.success', `oauth:${accountId}`, { rule: mapped.rule, role: mapped.role });
    return provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
  });

  router.post('/interaction/:uid/confirm', form, async function confirm(req, res) {
    const details = await provider.interactionDetails(req, res).catch(() => undefined);
    const csrf = typeof req.body?.csrf === 'string' ? Buffer.from(req.body.csrf as string) : Buffer.alloc(0);
    if (!details || details.uid !== req.params.uid || details.prompt.name !== 'consent')
      return fail(res, 400, 'This sign-in has expired or was started in another browser.');
    const expected = Buffer.from(csrfOf(details.uid));
    if (csrf.length !== expected.length || !timingSafeEqual(csrf, expected)) return fail(res, 403, 'The form was not sent from this page.');
    const accountId = details.session?.accountId;
    const account = accountId ? await accounts.find(accountId) : undefined;
    if (!account || !accountId) return fail(res, 400, 'This sign-in has expired.');
    if (req.body?.decision !== 'allow') return deny(req, res, 'You denied access');
    const requested = (details.prompt.details.missingResourceScopes as Record<string, string[]> | undefined)?.[resource] ?? [];
    const granted = grantableScopes(requested, resolveRole(account.role) ?? []);
    const refused = requested.filter((scope) => !granted.includes(scope));
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    if (!grant) return fail(res, 400, 'This sign-in has expired.');
    // The resource's scopes are also plain OAuth scopes to the library: decide them the same way there.
    const oidcScopes = (details.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
    const oidcGranted = oidcScopes.filter((scope) => scope === 'openid' || scope === 'offline_access' || granted.includes(scope));
    const oidcRefused = oidcScopes.filter((scope) => !oidcGranted.includes(scope));
    if (oidcGranted.length) grant.addOIDCScope(oidcGranted.join(' '));
    if (oidcRefused.length) grant.rejectOIDCScope(oidcRefused.join(' '));
    if (granted.length) grant.addResourceScope(resource, granted.join(' '));
    if (refused.length) grant.rejectResourceScope(resource, refused.join(' '));
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  });

  // Anything unexpected (the store down, the upstream unreachable): a fixed page, never internals.
  router.use((_error: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
    fail(res, 503, 'The sign-in service is temporarily unavailable.');
  });
  return router;
}
