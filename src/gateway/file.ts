import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { parseDuration } from '../config/env-types.js';
import { LOCK_FILE_NAME } from '../pinning/lock.js';
import { bucketLimitSchema } from '../middleware/rate-limit/levels.js';

/**
 * The gateway file (`MCP_GATEWAY_FILE`): the upstream MCP servers the gateway
 * fronts, each mounted at `<MCP_PATH>/<name>` with its own policy and limits.
 * JSON, validated with zod; unknown keys are refused, and a secret is never
 * written in the file itself: it names a file (`{ "file": "/run/secrets/x" }`)
 * or an environment variable (`{ "env": "X" }`) that holds it.
 */

/** Upstream names: what `/mcp/<name>` and the metric labels use. */
const UPSTREAM_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const PERMISSION = /^[a-z][a-z0-9_-]*:[a-z0-9_*-]+$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
/** Headers the gateway owns on the upstream request: a file cannot set them. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'accept',
  'connection',
  'transfer-encoding',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'last-event-id',
]);
/** Most upstreams one gateway mounts: metric labels and route labels stay bounded. */
export const MAX_UPSTREAMS = 24;

/** A duration: milliseconds as a number, or a string such as `30s`, `5m`, `500ms`. */
const duration = (min: number, max: number) =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = typeof value === 'number' ? value : parseDuration(value);
    if (!Number.isFinite(ms) || !Number.isInteger(ms) || ms < min || ms > max) {
      ctx.addIssue({ code: 'custom', message: `must be a duration between ${min}ms and ${max}ms (for example 30s or 5m)` });
      return z.NEVER;
    }
    return ms;
  });

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024, gb: 1024 * 1024 * 1024 };
/** A byte size: a number, or a string such as `512kb`, `256mb`. */
const bytes = (min: number, max: number) =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const match = typeof value === 'string' ? /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(value.trim()) : undefined;
    const size = typeof value === 'number' ? value : match ? Number(match[1]) * (SIZE_UNITS[(match[2] ?? 'b').toLowerCase()] ?? 1) : NaN;
    if (!Number.isInteger(size) || size < min || size > max) {
      ctx.addIssue({ code: 'custom', message: `must be a size between ${min} and ${max} bytes (for example 256mb)` });
      return z.NEVER;
    }
    return size;
  });

/** Where a secret is: a file (mode 0600, one line) or an environment variable of the gateway. */
const secretRef = z.union(
  [
    z.strictObject({ file: z.string().min(1) }),
    z.strictObject({ env: z.string().regex(ENV_NAME, 'must be an environment variable name') }),
  ],
  { error: 'must be { "file": "/path" } or { "env": "NAME" }: secrets are never written in the gateway file' },
);
export type SecretRef = z.infer<typeof secretRef>;

const authSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('bearer'), token: secretRef }),
  z.strictObject({
    type: z.literal('header'),
    name: z
      .string()
      .regex(HEADER_NAME, 'must be an HTTP header name')
      .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), 'is set by the gateway itself'),
    value: secretRef,
  }),
  z.strictObject({
    type: z.literal('oauth-client-credentials'),
    clientId: z.string().min(1).max(256),
    clientSecret: secretRef,
    /** Space-separated scopes to ask for. Default: none (the authorization server's default). */
    scope: z.string().max(1024).optional(),
    /**
     * The authorization server's issuer the credentials were registered with: the secret is sent
     * to no other (the token endpoint is discovered from the upstream's protected-resource metadata).
     */
    issuer: z.url({ protocol: /^https?$/ }),
  }),
]);

const permissionOrDeny = z.union([z.literal('deny'), z.string().regex(PERMISSION, 'must be "deny" or a permission such as tools:call')]);
const permissionMap = z.record(z.string().min(1).max(2048), z.string().regex(PERMISSION, 'must be a permission such as tools:call'));

const policySchema = z.strictObject({
  /** Upstream tool name to the permission it requires. */
  tools: permissionMap.default({}),
  /** Upstream prompt name to permission. */
  prompts: permissionMap.default({}),
  /** Upstream resource URI or URI template to permission. */
  resources: permissionMap.default({}),
  /**
   * What a tool, prompt or resource the lists above do not name requires:
   * `deny` (the default: it is neither listed nor callable) or a permission.
   */
  default: z
    .strictObject({
      tools: permissionOrDeny.default('deny'),
      prompts: permissionOrDeny.default('deny'),
      resources: permissionOrDeny.default('deny'),
    })
    .default({ tools: 'deny', prompts: 'deny', resources: 'deny' }),
});

const bucket = bucketLimitSchema;
const limitsSchema = z.strictObject({
  /** Per principal on this upstream. */
  principal: bucket.optional(),
  /** Per principal and tool, for every tool without an override. */
  tool: bucket.optional(),
  /** Per principal and tool, by upstream tool name. */
  tools: z.record(z.string().min(1).max(256), bucket).default({}),
  /** All principals together on this upstream: a ceiling that protects it. */
  global: bucket.optional(),
});

/**
 * Tool-definition pinning of an upstream (docs/pinning.md): what its tools,
 * prompts and resource templates may be, as the tool lock pins them.
 */
const pinningSchema = z.strictObject({
  /**
   * `off`, `warn` (drift is audited and counted) or `enforce` (also left out
   * of lists and refused). Default `enforce`, `warn` in development mode.
   */
  mode: z.enum(['off', 'warn', 'enforce']).optional(),
  /** With no entry in the lock for this upstream, pin what it lists the first time it is reached. Default true. */
  trustOnFirstUse: z.boolean().default(true),
  /** Longest tool description not reported by screening (characters). Default 4096. */
  maxDescriptionLength: z.number().int().min(64).max(1_000_000).default(4096),
});
export type UpstreamPinning = z.output<typeof pinningSchema>;

const common = {
  pinning: pinningSchema.default({ trustOnFirstUse: true, maxDescriptionLength: 4096 }),
  /** Which protocol era to speak to the upstream: probe (`auto`), or pin one. Default `auto`. */
  protocol: z.enum(['auto', '2025', '2026-07-28']).default('auto'),
  policy: policySchema.default({
    tools: {},
    prompts: {},
    resources: {},
    default: { tools: 'deny', prompts: 'deny', resources: 'deny' },
  }),
  limits: limitsSchema.optional(),
  /** Longest an upstream call may take (the client's own request included). Default 60 s. */
  callTimeout: duration(100, 3_600_000).default(60_000),
  /** Largest upstream answer accepted (one JSON body or one SSE event). Default 4 MiB. */
  maxResponseBytes: bytes(1024, 256 * 1024 * 1024).default(4 * 1024 * 1024),
  /** How long a 2026-07-28 client may take to answer an input round bridged from a 2025 upstream. Default 5 min. */
  inputTimeout: duration(1_000, 3_600_000).default(300_000),
};

const httpSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  auth: authSchema.default({ type: 'none' }),
  /**
   * How connections are shared: one for every principal (`shared`, the
   * default: the upstream sees the gateway's credential either way), one per
   * tenant, or one per principal (separate upstream sessions).
   */
  share: z.enum(['principal', 'tenant', 'shared']).default('shared'),
  /** Most open connections (sessions) to this upstream. Default 100. */
  maxConnections: z.number().int().min(1).max(10_000).default(100),
  /** Close a connection unused this long (not `shared`). Default 10 min. */
  idleTimeout: duration(1_000, 86_400_000).default(600_000),
  ...common,
});

const envValue = z.union([z.string().max(32_768), secretRef]);
const stdioSchema = z.strictObject({
  /** The program, run directly (never through a shell). */
  command: z.string().min(1).max(4096),
  args: z.array(z.string().max(32_768)).max(256).default([]),
  /** The child's environment: only these variables, plus those of `inheritEnv` taken from the gateway's. */
  env: z.record(z.string().regex(ENV_NAME, 'must be an environment variable name'), envValue).default({}),
  /** Variables copied from the gateway's own environment. Default `PATH` and `HOME`. */
  inheritEnv: z.array(z.string().regex(ENV_NAME)).max(64).default(['PATH', 'HOME']),
  cwd: z.string().min(1).optional(),
  /**
   * Who shares a child: each principal has its own (`principal`, the
   * default), each tenant has one, or everyone uses one (`shared`).
   */
  share: z.enum(['principal', 'tenant', 'shared']).default('principal'),
  /** Most children of this upstream alive at once. Default 20. */
  maxChildren: z.number().int().min(1).max(1_000).default(20),
  /** A child without a request this long is stopped. Default 10 min. */
  idleTimeout: duration(1_000, 86_400_000).default(600_000),
  /** A child whose resident memory passes this is killed (checked every second). Default 512 MiB. */
  maxMemory: bytes(16 * 1024 * 1024, 64 * 1024 * 1024 * 1024).default(512 * 1024 * 1024),
  /** Longest a child may take to start and answer its handshake. Default 30 s. */
  startTimeout: duration(500, 600_000).default(30_000),
  /** Restarts of a crashed child: at most `maxRestarts` within `window`, each after a growing delay. */
  restart: z
    .strictObject({
      maxRestarts: z.number().int().min(0).max(100).default(5),
      window: duration(1_000, 86_400_000).default(60_000),
      initialDelay: duration(10, 60_000).default(250),
      maxDelay: duration(10, 600_000).default(10_000),
    })
    .default({ maxRestarts: 5, window: 60_000, initialDelay: 250, maxDelay: 10_000 }),
  ...common,
});

export type HttpUpstreamSpec = z.output<typeof httpSchema> & { name: string; kind: 'http' };
export type StdioUpstreamSpec = z.output<typeof stdioSchema> & { name: string; kind: 'stdio' };
/** One upstream of the gateway file, validated, with its defaults filled in. */
export type UpstreamSpec = HttpUpstreamSpec | StdioUpstreamSpec;
export type UpstreamPolicy = z.output<typeof policySchema>;
export type UpstreamAuth = z.output<typeof authSchema>;
export type UpstreamLimits = z.output<typeof limitsSchema>;
/** What an HTTP upstream is before defaults: for the quick start and tests. */
export type HttpUpstreamInput = z.input<typeof httpSchema>;
/** What a stdio upstream is before defaults. */
export type StdioUpstreamInput = z.input<typeof stdioSchema>;

/** The gateway file, validated. */
export interface GatewayFile {
  upstreams: UpstreamSpec[];
  /**
   * The tool lock (docs/pinning.md): the file's `lock`, relative to the
   * gateway file's directory; default `tools.lock.json` beside it (for a
   * quick start, in the working directory).
   */
  lockPath?: string;
}

/** Thrown for a gateway file that cannot be used: every problem, one per line, no secret. */
export class GatewayFileError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid gateway file:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'GatewayFileError';
    this.problems = problems;
  }
}

const rootSchema = z.strictObject({
  /** Editors' schema hint; ignored. */
  $schema: z.string().optional(),
  /** The tool lock's path, relative to the gateway file. Default `tools.lock.json`. */
  lock: z.string().min(1).max(4096).optional(),
  upstreams: z.record(z.string(), z.unknown()),
});

const issuesOf = (prefix: string, error: z.ZodError): string[] =>
  error.issues.map((issue) => `${[prefix, ...issue.path.map(String)].filter(Boolean).join('.')}: ${issue.message}`);

/** Validates one upstream entry (`url` makes it HTTP, `command` stdio); pushes problems. */
export function parseUpstream(name: string, value: unknown, problems: string[]): UpstreamSpec | undefined {
  const at = `upstreams.${name}`;
  if (!UPSTREAM_NAME.test(name)) {
    problems.push(`${at}: upstream names use 1-32 lowercase letters, digits, "-" or "_", starting with a letter or digit`);
    return undefined;
  }
  const entry = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  const isHttp = entry !== undefined && 'url' in entry;
  const isStdio = entry !== undefined && 'command' in entry;
  if (isHttp === isStdio) {
    problems.push(`${at}: needs either "url" (an HTTP upstream) or "command" (a stdio upstream)`);
    return undefined;
  }
  const parsed = (isHttp ? httpSchema : stdioSchema).safeParse(entry);
  if (!parsed.success) {
    problems.push(...issuesOf(at, parsed.error));
    return undefined;
  }
  const spec = { ...parsed.data, name, kind: isHttp ? 'http' : 'stdio' } as UpstreamSpec;
  const limits = spec.limits;
  for (const tool of Object.keys(limits?.tools ?? {})) {
    if (!Object.hasOwn(spec.policy.tools, tool) && spec.policy.default.tools === 'deny')
      problems.push(`${at}.limits.tools.${tool}: the policy allows no such tool`);
  }
  if (spec.kind === 'stdio' && spec.restart.initialDelay > spec.restart.maxDelay)
    problems.push(`${at}.restart.initialDelay: must not exceed maxDelay`);
  return spec;
}

/**
 * Parses the text of a gateway file. Throws one {@link GatewayFileError}
 * listing every problem (paths and reasons, never values).
 *
 * @example const file = parseGatewayFile(readFileSync(path, 'utf8'));
 */
export function parseGatewayFile(text: string): GatewayFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new GatewayFileError(['not valid JSON']);
  }
  const root = rootSchema.safeParse(json);
  if (!root.success) throw new GatewayFileError(issuesOf('', root.error));
  const problems: string[] = [];
  const names = Object.keys(root.data.upstreams);
  if (names.length === 0) problems.push('upstreams: name at least one upstream');
  if (names.length > MAX_UPSTREAMS) problems.push(`upstreams: at most ${MAX_UPSTREAMS} upstreams`);
  const upstreams: UpstreamSpec[] = [];
  for (const name of names) {
    const spec = parseUpstream(name, root.data.upstreams[name], problems);
    if (spec) upstreams.push(spec);
  }
  if (problems.length) throw new GatewayFileError(problems);
  return { upstreams, ...(root.data.lock ? { lockPath: root.data.lock } : {}) };
}

/** Reads a file; injectable for tests. */
export type TextReader = (path: string) => string;

/**
 * Reads and validates the gateway file at `path`.
 *
 * @example const file = loadGatewayFile(env.MCP_GATEWAY_FILE);
 */
export function loadGatewayFile(path: string, readFile: TextReader = (file) => readFileSync(file, 'utf8')): GatewayFile {
  let text: string;
  try {
    text = readFile(path);
  } catch {
    throw new GatewayFileError(['MCP_GATEWAY_FILE: cannot read the file it names']);
  }
  const file = parseGatewayFile(text);
  return { ...file, lockPath: resolvePath(dirname(resolvePath(path)), file.lockPath ?? LOCK_FILE_NAME) };
}

/**
 * Resolves a secret reference: the file's contents (one trailing newline
 * dropped) or the variable's value. Throws a {@link GatewayFileError} naming
 * the reference, never its value, when it cannot be read or is empty.
 */
export function resolveSecret(
  ref: SecretRef,
  env: Readonly<Record<string, string | undefined>>,
  where: string,
  readFile: TextReader = (file) => readFileSync(file, 'utf8'),
): string {
  let value: string | undefined;
  if ('env' in ref) {
    value = env[ref.env];
    if (value === undefined || value === '') throw new GatewayFileError([`${where}: the environment variable ${ref.env} is not set`]);
  } else {
    try {
      value = readFile(ref.file).replace(/\r?\n$/, '');
    } catch {
      throw new GatewayFileError([`${where}: cannot read the secret file it names`]);
    }
    if (value === '') throw new GatewayFileError([`${where}: the secret file is empty`]);
  }
  if (/[\r\n\0]/.test(value)) throw new GatewayFileError([`${where}: the secret holds a line break or NUL`]);
  return value;
}
