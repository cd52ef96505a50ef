import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import { parseOptions } from '../core/options.js';
import type { GuardError } from '../errors/guard-error.js';
import { bearerChallenge, type ChallengeBuilder } from '../errors/respond.js';

/** The path of the RFC 9728 metadata document (the root form; the path-aware form appends the resource path). */
export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource';

/**
 * RFC 8414 metadata for this server's own token endpoint (`POST /oauth/token`, service clients):
 * served when that endpoint is on and the full authorization server is not, so that the server
 * the protected-resource metadata names has a metadata document.
 */
export function createTokenEndpointMetadata(options: { publicUrl?: string; tokenPath: string }): RequestHandler {
  const fixedBase = options.publicUrl?.replace(/\/+$/, '');
  return function tokenEndpointMetadata(req, res) {
    const base = fixedBase ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json({
      issuer: base,
      token_endpoint: `${base}${options.tokenPath}`,
      grant_types_supported: ['client_credentials', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: [],
    });
  };
}

/** Options of {@link createProtectedResourceMetadata}. */
export interface ProtectedResourceMetadataOptions {
  /** Public base URL (`https://mcp.example.com`). Default: from each request's protocol and (already checked) Host. */
  publicUrl?: string;
  /** Path of the protected resource (the MCP endpoint). Default `/mcp`. */
  resourcePath?: string;
  /**
   * Authorization servers that issue tokens for this resource. Default none: the field is left out
   * rather than naming a server that does not exist (MCP asks for one; a deployment without an
   * authorization server has none to name).
   */
  authorizationServers?: string[];
  /** Name this server (its base URL) first among the authorization servers: it has a token endpoint. Default false. */
  selfIsAuthorizationServer?: boolean;
  /** Scopes a client may ask for. Default none listed. */
  scopes?: string[];
  /** Human-readable name. Default `mcp-guard`. */
  resourceName?: string;
}

const optionsSchema = z.strictObject({
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  resourcePath: z
    .string()
    .regex(/^\/[A-Za-z0-9/_-]*$/)
    .optional(),
  authorizationServers: z.array(z.url({ protocol: /^https?$/ })).optional(),
  selfIsAuthorizationServer: z.boolean().optional(),
  scopes: z.array(z.string().min(1)).optional(),
  resourceName: z.string().min(1).max(128).optional(),
});

/** The metadata route, its paths, and the challenge that points clients at it. */
export interface ProtectedResourceMetadata {
  /** Paths to mount `handler` on: the root form and the path-aware form. */
  paths: string[];
  handler: RequestHandler;
  /** The URL of the metadata document, as named in challenges. */
  metadataUrl(req: Request): string;
  /** `WWW-Authenticate: Bearer resource_metadata="..."` (plus `error` when a token was presented). */
  challenge: ChallengeBuilder;
}

/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoint: the
 * document naming the resource, its authorization servers and scopes, and the
 * 401 challenge that carries its URL, as MCP authorization requires.
 *
 * @example const prm = createProtectedResourceMetadata({ publicUrl, authorizationServers: ['https://auth.example.com'] });
 * app.get(prm.paths, prm.handler);
 */
export function createProtectedResourceMetadata(options: ProtectedResourceMetadataOptions = {}): ProtectedResourceMetadata {
  const {
    publicUrl,
    resourcePath = '/mcp',
    authorizationServers = [],
    selfIsAuthorizationServer = false,
    scopes = [],
    resourceName = 'mcp-guard',
  } = parseOptions('createProtectedResourceMetadata', optionsSchema, options);
  const fixedBase = publicUrl?.replace(/\/+$/, '');
  const baseOf = (req: Request): string => fixedBase ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
  const metadataUrl = (req: Request): string => `${baseOf(req)}${PROTECTED_RESOURCE_PATH}${resourcePath}`;

  return {
    paths: [PROTECTED_RESOURCE_PATH, `${PROTECTED_RESOURCE_PATH}${resourcePath}`],
    handler: function protectedResourceMetadata(req, res) {
      const base = baseOf(req);
      const servers = selfIsAuthorizationServer
        ? [base, ...authorizationServers.filter((server) => server !== base)]
        : authorizationServers;
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.json({
        resource: `${base}${resourcePath}`,
        ...(servers.length ? { authorization_servers: servers } : {}),
        ...(scopes.length ? { scopes_supported: scopes } : {}),
        bearer_methods_supported: ['header'],
        resource_name: resourceName,
      });
    },
    metadataUrl,
    // A 401 also names the scopes to ask for (MCP: SHOULD); a 403 names the missing one itself.
    challenge: (req: Request, error: GuardError) =>
      bearerChallenge(error, {
        ...(error.status === 401 && scopes.length ? { scope: scopes.join(' ') } : {}),
        resource_metadata: metadataUrl(req),
      }),
  };
}
