import { parseArgs } from 'node:util';
import { parseDuration } from '../../config/env-types.js';
import { loadConfig } from '../../config/load.js';
import { generateToken } from '../../credentials/generate-token.js';
import { describeError } from '../../logging/redact.js';
import type { CliCommand } from '../command.js';

const USAGE = `Usage: mcp-guard token issue --sub <subject> --role <role> [--ttl 12h] [--tenant <t>] [--scope "a b"]

Issues an HS256 service-account token signed with MCP_JWT_SECRET (or MCP_JWT_SECRET_FILE),
with MCP_JWT_ISSUER as iss and the first MCP_JWT_AUDIENCE (or MCP_PUBLIC_URL + MCP_PATH) as aud.
`;

/** `mcp-guard token issue`: prints a service-account JWT the server accepts. */
export const tokenCommand: CliCommand = {
  name: 'token',
  summary: 'Issue a service-account JWT: token issue --sub ... --role ... --ttl 12h',
  async run(args, io) {
    try {
      const [action, ...rest] = args;
      const { values } = parseArgs({
        args: rest,
        options: {
          sub: { type: 'string' },
          role: { type: 'string' },
          ttl: { type: 'string' },
          tenant: { type: 'string' },
          scope: { type: 'string' },
        },
      });
      if (action !== 'issue' || !values.sub || (!values.role && !values.scope)) {
        io.stderr(USAGE);
        return 2;
      }
      const ttlMs = parseDuration(values.ttl ?? '12h');
      if (!Number.isFinite(ttlMs) || ttlMs < 1000) throw new Error('--ttl must be a duration such as 15m or 12h');
      const config = loadConfig(io.env);
      const { jwt } = config.credentials;
      if (!jwt.secret) throw new Error('MCP_JWT_SECRET (or MCP_JWT_SECRET_FILE) is required to sign tokens');
      // A token naming a role the server does not know would be refused on every request.
      if (values.role && !Object.hasOwn(config.rbac.roles, values.role))
        throw new Error(
          `unknown role "${values.role}" (known: ${Object.keys(config.rbac.roles).join(', ')}; custom roles come from MCP_RBAC_FILE)`,
        );
      const { token, expiresAt } = generateToken({
        secret: jwt.secret,
        subject: values.sub,
        ttlSec: Math.floor(ttlMs / 1000),
        claims: jwt.claims,
        ...(values.role ? { role: values.role } : {}),
        ...(values.scope ? { permissions: values.scope.split(' ').filter(Boolean) } : {}),
        ...(values.tenant ? { tenant: values.tenant } : {}),
        ...(jwt.issuer ? { issuer: jwt.issuer } : {}),
        ...(jwt.audience[0] ? { audience: jwt.audience[0] } : {}),
      });
      io.stderr(`Token for ${values.sub}, valid until ${new Date(expiresAt * 1000).toISOString()}:\n`);
      io.stdout(`${token}\n`);
      return 0;
    } catch (error) {
      io.stderr(`token: ${describeError(error).message}\n`);
      return 1;
    }
  },
};
