import { parseArgs } from 'node:util';
import { openJsonlAuditLogger } from '../../audit/jsonl-writer.js';
import type { AuditEventInput } from '../../audit/event.js';
import { parseDuration } from '../../config/env-types.js';
import { loadRbac } from '../../config/load.js';
import { compileCidrs } from '../../core/cidr.js';
import { addKey, revokeKey, rotateKey, summarizeKeys } from '../../credentials/key-lifecycle.js';
import { readKeyStoreFile, updateKeyStoreFile } from '../../credentials/key-store-file.js';
import { createRevocationList, MAX_REVOCATION_TTL_MS } from '../../credentials/revocations.js';
import { describeError } from '../../logging/redact.js';
import { createRedisStore } from '../../stores/redis.js';
import type { CliCommand, CliIo } from '../command.js';
import { auditKeyOf } from './audit.js';

const USAGE = `Usage: mcp-guard keys <create|list|revoke|rotate> [options]

  create --name <name> --role <role> [--env live|test] [--tenant <t>] [--permissions a,b]
         [--cidr 10.0.0.0/8,...] [--ttl 90d]     prints the new key once
  list   [--json]                                 never prints a secret
  revoke <id>                                     with REDIS_URL set, every replica refuses it at once;
                                                  exit code 3: revoked in the file, but Redis did not answer
  rotate <id> [--overlap 24h]                     new key; the old one stays valid for the overlap

  --store <path>  the key-store file (default MCP_KEY_STORE)
`;

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

function durationOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (!Number.isFinite(ms) || ms <= 0) throw new Error(`--${name} must be a duration such as 30m, 24h or 90d`);
  return ms;
}

async function recordAudit(io: CliIo, event: AuditEventInput): Promise<void> {
  if (['false', '0', 'no', 'off'].includes((io.env.MCP_AUDIT_ENABLED ?? '').toLowerCase())) return;
  const hmacKey = auditKeyOf(io.env);
  const audit = await openJsonlAuditLogger({ dir: io.env.MCP_AUDIT_DIR || './audit', stream: 'cli', ...(hmacKey ? { hmacKey } : {}) });
  try {
    await audit.record(event);
  } finally {
    await audit.close();
  }
}

/** What became of the revocation marker in Redis. */
type SharedOutcome = 'shared' | 'no_redis' | 'redis_unreachable';

/** Exit code of `keys revoke` when the file says revoked but Redis could not be told. */
export const EXIT_REVOKED_NOT_SHARED = 3;

/** Writes the revocation to the shared store so every replica refuses the key on its next request. */
async function broadcastRevocation(io: CliIo, id: string, ttlMs: number): Promise<SharedOutcome> {
  const url = io.env.REDIS_URL;
  if (!url) return 'no_redis';
  const store = await createRedisStore({ url, prefix: io.env.MCP_REDIS_PREFIX || 'mcp-guard:' });
  try {
    await createRevocationList(store).revoke(id, ttlMs);
    return 'shared';
  } catch {
    // Never the error itself: it may quote the URL, which can hold a password.
    return 'redis_unreachable';
  } finally {
    await store.shutdown();
  }
}

async function run(args: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      store: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      env: { type: 'string' },
      tenant: { type: 'string' },
      permissions: { type: 'string' },
      cidr: { type: 'string' },
      ttl: { type: 'string' },
      overlap: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const path = values.store ?? io.env.MCP_KEY_STORE;
  if (!action || !['create', 'list', 'revoke', 'rotate'].includes(action)) {
    io.stderr(USAGE);
    return 2;
  }
  if (!path) throw new Error('Give the key-store file with --store or MCP_KEY_STORE');
  const actor = { principalId: 'cli', authMethod: 'cli' };

  if (action === 'list') {
    const keys = summarizeKeys(readKeyStoreFile(path, true));
    if (values.json) io.stdout(`${JSON.stringify(keys, null, 2)}\n`);
    else {
      io.stdout(`${['ID', 'NAME', 'ENV', 'ROLE', 'TENANT', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'].join('\t')}\n`);
      for (const key of keys) {
        const row = [
          key.id,
          key.name,
          key.environment,
          key.role,
          key.tenant ?? '-',
          key.status,
          key.createdAt,
          key.expiresAt ?? 'never',
          key.lastUsedAt ?? 'never',
        ];
        io.stdout(`${row.join('\t')}\n`);
      }
    }
    return 0;
  }

  if (action === 'create') {
    if (!values.name || !values.role) throw new Error('create needs --name and --role');
    // The roles the server knows: built-in ones and those of MCP_RBAC_FILE.
    const { roles } = loadRbac(io.env);
    if (!Object.hasOwn(roles, values.role)) throw new Error(`Unknown role "${values.role}" (${Object.keys(roles).join(', ')})`);
    if (values.env !== undefined && values.env !== 'live' && values.env !== 'test') throw new Error('--env must be live or test');
    const cidrs = list(values.cidr);
    compileCidrs(cidrs);
    const ttlMs = durationOption(values.ttl, 'ttl');
    const { key, record } = await updateKeyStoreFile(path, (data) =>
      addKey(data, {
        name: values.name!,
        role: values.role!,
        environment: (values.env as 'live' | 'test' | undefined) ?? 'live',
        permissions: list(values.permissions),
        cidrs,
        ...(values.tenant ? { tenant: values.tenant } : {}),
        ...(ttlMs !== undefined ? { ttlMs } : {}),
      }),
    );
    await recordAudit(io, {
      type: 'key.created',
      action: 'keys create',
      actor,
      outcome: { status: 'success' },
      details: { keyId: record.id, name: record.name, role: record.role },
    });
    io.stdout(`Created API key ${record.id} (${record.name}, role ${record.role}). It is shown only now; store it safely:\n${key}\n`);
    return 0;
  }

  const id = positionals[0];
  if (!id) throw new Error(`${action} needs the key id (see keys list)`);
  if (action === 'revoke') {
    const record = await updateKeyStoreFile(path, (data) => revokeKey(data, id));
    const ttlMs = record.expiresAt ? Date.parse(record.expiresAt) - Date.now() : MAX_REVOCATION_TTL_MS;
    const shared = await broadcastRevocation(io, id, ttlMs);
    const failed = shared === 'redis_unreachable';
    await recordAudit(io, {
      type: 'key.revoked',
      action: 'keys revoke',
      actor,
      outcome: failed ? { status: 'error', code: 'redis_unreachable' } : { status: 'success' },
      details: { keyId: id, file: true, shared: shared === 'shared' },
    });
    if (failed) {
      io.stderr(
        `Revoked API key ${id} in the key store file, but Redis did not answer: the revocation was NOT written there.\n` +
          'Servers that read this file refuse the key once they reload it; replicas with their own copy of the file keep\n' +
          `accepting it. Run "mcp-guard keys revoke ${id}" again once Redis answers.\n`,
      );
      return EXIT_REVOKED_NOT_SHARED;
    }
    io.stdout(`Revoked API key ${id}${shared === 'shared' ? ' (announced to every replica through Redis)' : ''}.\n`);
    return 0;
  }
  const overlapMs = durationOption(values.overlap, 'overlap') ?? 24 * 3_600_000;
  const { key, record, old } = await updateKeyStoreFile(path, (data) => rotateKey(data, id, overlapMs));
  await recordAudit(io, {
    type: 'key.rotated',
    action: 'keys rotate',
    actor,
    outcome: { status: 'success' },
    details: { keyId: id, newKeyId: record.id, oldExpiresAt: old.expiresAt ?? null },
  });
  io.stdout(
    `Rotated API key ${id} -> ${record.id}; the old key stays valid until ${old.expiresAt}. The new key is shown only now:\n${key}\n`,
  );
  return 0;
}

/** `mcp-guard keys`: create, list, revoke and rotate API keys in the key-store file. */
export const keysCommand: CliCommand = {
  name: 'keys',
  summary: 'Manage API keys: keys create|list|revoke|rotate',
  async run(args, io) {
    try {
      return await run(args, io);
    } catch (error) {
      io.stderr(`keys: ${describeError(error).message}\n`);
      return 1;
    }
  },
};
