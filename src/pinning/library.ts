import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import type { AuditLogger } from '../audit/types.js';
import { fn, parseOptions } from '../core/options.js';
import { ErrorCode, TOOL_BLOCKED_RPC } from '../errors/codes.js';
import { GuardError } from '../errors/guard-error.js';
import type { Logger } from '../logging/logger.js';
import { describeError } from '../logging/redact.js';
import type { GuardMetrics } from '../metrics/guard-metrics.js';
import { createPinningMetrics, type PinningMetrics } from '../metrics/pinning.js';
import type { DefinitionKind, DefinitionSet } from './canonical.js';
import { createPinGuard, type PinGuard } from './guard.js';
import { captureResponse, filterListBody, LIST_METHODS } from './list-filter.js';
import { createLockWatcher } from './lock-watcher.js';
import { userInfo } from 'node:os';
import { approvalEvents, approveInLock, parseDefinitionName, type ApprovalResult } from './approve.js';
import { formatEvaluation } from './diff.js';
import { blockedMessage, evaluate, sectionOf, type PinMode, type Verdict } from './evaluate.js';
import { DEFAULT_SCREENING } from './screen.js';

/**
 * Tool-definition pinning in front of your own server (library mode): the
 * option `pinning` of `createSecurityStack`. The stack judges the
 * definitions your server lists against the lock, refuses calls of blocked
 * tools and gets of blocked prompts (403, JSON-RPC -32019), and takes
 * blocked definitions out of the `tools/list`, `prompts/list` and
 * `resources/templates/list` answers your server sends.
 */
export interface PinningOptions {
  /** The lock file (`tools.lock.json`), shared by every replica. */
  lockFile: string;
  /**
   * Your server's tools, prompts and resource templates as it lists them
   * (`readServerDefinitions(() => buildServer())` reads them from an SDK
   * server). Read when the stack is created and on `stack.pinning.refresh()`.
   */
  definitions: () => DefinitionSet | Promise<DefinitionSet>;
  /** The name your server's definitions have in the lock. Default `local`. */
  name?: string;
  /** `off`, `warn` (audit and metrics only) or `enforce`. Default `enforce`. */
  mode?: PinMode;
  /** With nothing in the lock for this server, pin what it lists the first time. Default true. */
  trustOnFirstUse?: boolean;
  /** Longest tool description screening accepts (characters). Default 4096. */
  maxDescriptionLength?: number;
  /** How often the lock is checked for a change (ms). Default 2000. */
  pollMs?: number;
}

const optionsSchema = z.strictObject({
  lockFile: z.string().min(1),
  definitions: fn<PinningOptions['definitions']>(),
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/)
    .default('local'),
  mode: z.enum(['off', 'warn', 'enforce']).default('enforce'),
  trustOnFirstUse: z.boolean().default(true),
  maxDescriptionLength: z.number().int().min(64).max(1_000_000).default(4096),
  pollMs: z.number().int().min(0).max(3_600_000).default(2000),
});

/** Pinning as the stack runs it: the gate to mount, and the handles. */
export interface LocalPinning {
  /** Mount after the final authorization: refuses blocked calls, filters list answers. */
  gate: RequestHandler;
  guard: PinGuard;
  /** Reads `definitions` again and judges them (after your server's tools changed). */
  refresh(): Promise<void>;
  /** What differs from the lock, as `mcp-guard tools diff` shows it; empty when nothing does. */
  diff(): Promise<string[]>;
  /**
   * Approves names (`read_file`, `prompt:NAME`, `template:URI`) as your
   * server lists them now: pinned in the lock with `by` and the OS user,
   * audited as `tool.approved`, in force at once in this process (other
   * replicas within their lock poll).
   */
  approve(names: readonly string[], options: { by: string }): Promise<ApprovalResult[]>;
  close(): void;
}

const registries = new WeakMap<object, PinningMetrics>();
const NAMED = new Set(['tools/call', 'prompts/get']);

/** Builds library-mode pinning (see {@link PinningOptions}); validates the options at once. */
export function createLocalPinning(
  options: PinningOptions,
  deps: { audit: AuditLogger; metrics: GuardMetrics; logger?: Logger | undefined },
): LocalPinning {
  const { lockFile, definitions, name, mode, trustOnFirstUse, maxDescriptionLength, pollMs } = parseOptions(
    'createSecurityStack: pinning',
    optionsSchema,
    options,
  );
  const { audit, logger } = deps;
  // One set of pinning metrics per registry: a second stack on the same registry shares it.
  let metrics = registries.get(deps.metrics.registry);
  if (!metrics) registries.set(deps.metrics.registry, (metrics = createPinningMetrics(deps.metrics.registry, [name])));
  const lock = createLockWatcher({ path: lockFile, pollMs, ...(logger ? { logger } : {}) });
  const guard = createPinGuard({
    upstream: name,
    mode,
    lock,
    trustOnFirstUse,
    screening: { maxDescriptionLength },
    audit,
    metrics,
    ...(logger ? { logger } : {}),
  });
  let current: DefinitionSet | undefined;
  const refresh = async (): Promise<void> => {
    const read = await definitions();
    current = { tools: read.tools ?? [], prompts: read.prompts ?? [], resourceTemplates: read.resourceTemplates ?? [] };
    await guard.observe(current);
  };
  let ready = refresh().catch((error: unknown) => {
    logger?.error('pinning: the server definitions could not be read; in enforce mode every tool is refused', {
      error: describeError(error),
    });
  });

  const refuse = async (req: Request, verdict: Verdict): Promise<GuardError> => {
    await guard.recordRefusal(verdict, { principal: req.guard?.principal, requestId: req.guard?.requestId });
    return new GuardError(ErrorCode.ToolBlocked, blockedMessage(verdict), { data: { status: verdict.status } });
  };

  const gate: RequestHandler = async function pinningGate(req, res, next) {
    if (mode === 'off' || req.method !== 'POST' || !req.guard?.mcp) return next();
    try {
      await ready;
      const messages: unknown[] = Array.isArray(req.body) ? (req.body as unknown[]) : [req.body];
      for (const message of messages) {
        const { method, params } = (message ?? {}) as { method?: unknown; params?: { name?: unknown } };
        if (typeof method !== 'string' || !NAMED.has(method) || typeof params?.name !== 'string') continue;
        const kind: DefinitionKind = method === 'tools/call' ? 'tool' : 'prompt';
        if (!current) {
          const unread: Verdict = {
            kind,
            name: params.name,
            sha256: undefined,
            definition: {},
            status: 'unverifiable',
            findings: [],
            blocked: true,
          };
          if (mode === 'enforce') return next(await refuse(req, unread));
          continue;
        }
        const verdict = guard.blocking(kind, params.name, kind === 'tool' ? current.tools : current.prompts);
        if (verdict) return next(await refuse(req, verdict));
      }
      // Every list request of the body (a 2025-03-26 batch may hold several): their answers are filtered.
      const wanted = new Map<unknown, { key: string; filter: (items: readonly unknown[]) => unknown[] }>();
      for (const message of messages) {
        const { method, id } = (message ?? {}) as { method?: unknown; id?: unknown };
        const list = typeof method === 'string' && Object.hasOwn(LIST_METHODS, method) ? LIST_METHODS[method] : undefined;
        if (list && id !== undefined) wanted.set(id, { key: list.key, filter: (items) => guard.visible(list.kind, items) });
      }
      if (wanted.size && mode === 'enforce') {
        captureResponse(res, (body, contentType) => {
          const filtered = body === undefined ? undefined : filterListBody(body, contentType, wanted);
          if (filtered !== undefined) return filtered;
          // An answer that cannot be checked is not passed on.
          res.statusCode = 502;
          res.setHeader('content-type', 'application/json');
          const error = {
            code: TOOL_BLOCKED_RPC,
            message: 'The list could not be checked against the tool lock',
            data: { code: 'tool_blocked' },
          };
          return JSON.stringify({ jsonrpc: '2.0', id: wanted.size === 1 ? [...wanted.keys()][0] : null, error });
        });
      }
      return next();
    } catch {
      return next(new GuardError(ErrorCode.Unavailable, 'The request cannot be recorded and was refused'));
    }
  };

  const limits = { ...DEFAULT_SCREENING, maxDescriptionLength };
  return {
    gate,
    guard,
    async refresh() {
      ready = refresh();
      await ready;
    },
    async diff() {
      await refresh();
      return formatEvaluation(evaluate(name, current!, sectionOf(lock.state(), name), mode, limits));
    },
    async approve(names, { by }) {
      await refresh();
      const targets = names.map((argument) => ({ ...parseDefinitionName(argument), upstream: name, definitions: current!, limits }));
      const osUser = userInfo().username;
      const results = await approveInLock(lockFile, targets, `${by} (os user ${osUser})`);
      for (const event of approvalEvents(results, { by, osUser, authMethod: 'library' })) await audit.record(event);
      lock.reload();
      await guard.observe(current!);
      return results;
    },
    close() {
      guard.close();
      lock.close();
    },
  };
}
