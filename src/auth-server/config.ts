import { isIP } from 'node:net';
import { z } from 'zod';
import { envBool, envDuration, envInt, envList, envSecret } from '../config/env-types.js';

/**
 * The environment variables of the authorization server, merged into the one
 * schema `loadConfig` parses (`src/config/schema.ts`), so that they follow the
 * same rules: empty is unset, `_FILE` for the secret, one error listing every problem.
 */
export const authServerEnvShape = {
  MCP_AUTH_SERVER: envBool(false),
  MCP_AUTH_SERVER_KEYS_FILE: z.string().optional(),
  MCP_AUTH_SERVER_UPSTREAM_ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  MCP_AUTH_SERVER_UPSTREAM_CLIENT_ID: z.string().optional(),
  MCP_AUTH_SERVER_UPSTREAM_CLIENT_SECRET: envSecret(1),
  MCP_AUTH_SERVER_UPSTREAM_SCOPES: z.string().optional().default('openid email profile'),
  MCP_AUTH_SERVER_IDENTITY_FILE: z.string().optional(),
  MCP_AUTH_SERVER_CLIENTS_FILE: z.string().optional(),
  MCP_AUTH_SERVER_CIMD: envBool(true),
  MCP_AUTH_SERVER_CIMD_ORIGINS: envList,
  MCP_AUTH_SERVER_REGISTRATION: envBool(true),
  MCP_AUTH_SERVER_REGISTRATIONS_PER_HOUR: envInt(100, 1, 1_000_000),
  MCP_AUTH_SERVER_ACCESS_TOKEN_TTL: envDuration(10 * 60_000, 60_000, 3_600_000),
  MCP_AUTH_SERVER_REFRESH_TOKEN_TTL: envDuration(7 * 86_400_000, 3_600_000, 90 * 86_400_000),
  MCP_AUTH_SERVER_ALLOW_LOOPBACK: envBool(false),
};

type Env = z.output<z.ZodObject<typeof authServerEnvShape>> & {
  MCP_PUBLIC_URL?: string | undefined;
  MCP_PATH: string;
};

/** The resolved settings of the authorization server (`MCP_AUTH_SERVER_*`). */
export interface AuthServerConfig {
  enabled: boolean;
  /** The issuer: `MCP_PUBLIC_URL`. */
  issuer: string;
  /** The protected resource, the audience of every access token: `MCP_PUBLIC_URL` + `MCP_PATH`. */
  resource: string;
  /** A JWK set of private signing keys; the first signs. */
  keysFile: string;
  upstream: { issuer: string; clientId: string; clientSecret: string; scopes: string };
  /** The identity mapping file (upstream identity -> role and tenant). */
  identityFile: string;
  clientsFile: string | undefined;
  cimd: {
    enabled: boolean;
    /** Origins whose Client ID Metadata Documents are accepted; `*` accepts any public HTTPS origin. */
    origins: string[];
  };
  registration: { enabled: boolean; perHour: number };
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;
  /** Development: CIMD documents and the upstream issuer may be on loopback addresses (plain HTTP for the upstream). */
  allowLoopback: boolean;
}

/**
 * Builds the authorization-server part of the configuration. Off by default;
 * when on, every setting it cannot work without is required here, at start-up.
 */
export function buildAuthServerConfig(env: Env, problems: string[]): AuthServerConfig {
  const enabled = env.MCP_AUTH_SERVER;
  const publicUrl = env.MCP_PUBLIC_URL?.replace(/\/+$/, '') ?? '';
  if (enabled) {
    const need = (name: string, value: unknown) => {
      if (value === undefined || value === '') problems.push(`${name}: required when MCP_AUTH_SERVER=true`);
    };
    need('MCP_PUBLIC_URL', env.MCP_PUBLIC_URL);
    need('MCP_AUTH_SERVER_KEYS_FILE', env.MCP_AUTH_SERVER_KEYS_FILE);
    need('MCP_AUTH_SERVER_UPSTREAM_ISSUER', env.MCP_AUTH_SERVER_UPSTREAM_ISSUER);
    need('MCP_AUTH_SERVER_UPSTREAM_CLIENT_ID', env.MCP_AUTH_SERVER_UPSTREAM_CLIENT_ID);
    need('MCP_AUTH_SERVER_UPSTREAM_CLIENT_SECRET', env.MCP_AUTH_SERVER_UPSTREAM_CLIENT_SECRET);
    need('MCP_AUTH_SERVER_IDENTITY_FILE', env.MCP_AUTH_SERVER_IDENTITY_FILE);
    if (publicUrl && new URL(publicUrl).pathname !== '/')
      problems.push('MCP_PUBLIC_URL: must be an origin without a path when MCP_AUTH_SERVER=true (it is the issuer)');
    if (publicUrl.startsWith('http:') && !env.MCP_AUTH_SERVER_ALLOW_LOOPBACK)
      problems.push(
        'MCP_PUBLIC_URL: the authorization server needs https (http only with MCP_AUTH_SERVER_ALLOW_LOOPBACK=true, for development)',
      );
    const upstream = env.MCP_AUTH_SERVER_UPSTREAM_ISSUER;
    if (upstream?.startsWith('http:') && !(env.MCP_AUTH_SERVER_ALLOW_LOOPBACK && isLoopbackUrl(upstream)))
      problems.push(
        'MCP_AUTH_SERVER_UPSTREAM_ISSUER: must be https (http only for a loopback issuer with MCP_AUTH_SERVER_ALLOW_LOOPBACK=true)',
      );
    if (!env.MCP_AUTH_SERVER_UPSTREAM_SCOPES.split(' ').includes('openid'))
      problems.push('MCP_AUTH_SERVER_UPSTREAM_SCOPES: must include openid');
    for (const origin of env.MCP_AUTH_SERVER_CIMD_ORIGINS) {
      if (origin !== '*' && !/^https:\/\/[^/\s]+$/.test(origin)) {
        problems.push('MCP_AUTH_SERVER_CIMD_ORIGINS: each entry must be * or an https origin such as https://claude.ai');
        break;
      }
    }
  }
  return {
    enabled,
    issuer: publicUrl,
    resource: `${publicUrl}${env.MCP_PATH}`,
    keysFile: env.MCP_AUTH_SERVER_KEYS_FILE ?? '',
    upstream: {
      issuer: env.MCP_AUTH_SERVER_UPSTREAM_ISSUER ?? '',
      clientId: env.MCP_AUTH_SERVER_UPSTREAM_CLIENT_ID ?? '',
      clientSecret: env.MCP_AUTH_SERVER_UPSTREAM_CLIENT_SECRET ?? '',
      scopes: env.MCP_AUTH_SERVER_UPSTREAM_SCOPES,
    },
    identityFile: env.MCP_AUTH_SERVER_IDENTITY_FILE ?? '',
    clientsFile: env.MCP_AUTH_SERVER_CLIENTS_FILE,
    cimd: {
      enabled: env.MCP_AUTH_SERVER_CIMD,
      origins: env.MCP_AUTH_SERVER_CIMD_ORIGINS.length ? env.MCP_AUTH_SERVER_CIMD_ORIGINS : ['*'],
    },
    registration: { enabled: env.MCP_AUTH_SERVER_REGISTRATION, perHour: env.MCP_AUTH_SERVER_REGISTRATIONS_PER_HOUR },
    accessTokenTtlSec: Math.round(env.MCP_AUTH_SERVER_ACCESS_TOKEN_TTL / 1000),
    refreshTokenTtlSec: Math.round(env.MCP_AUTH_SERVER_REFRESH_TOKEN_TTL / 1000),
    allowLoopback: env.MCP_AUTH_SERVER_ALLOW_LOOPBACK,
  };
}

/** True for a URL whose host is a loopback name or address. */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
