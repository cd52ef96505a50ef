import type { AuditLogger } from '../audit/types.js';
import type { Principal } from '../core/principal.js';
import type { Logger } from '../logging/logger.js';
import { describeError } from '../logging/redact.js';
import type { PinningMetrics } from '../metrics/pinning.js';
import { DEFINITION_KINDS, LIST_OF, type Definition, type DefinitionKind, type DefinitionSet } from './canonical.js';
import { evaluate, judge, sectionOf, type Evaluation, type PinMode, type PinStatus, type Verdict } from './evaluate.js';
import type { LockWatcher } from './lock-watcher.js';
import { DEFAULT_SCREENING, describeFinding, reveal, type ScreeningLimits } from './screen.js';

/** Options of {@link createPinGuard}. */
export interface PinGuardOptions {
  /** The name the lock keeps this server's definitions under (the gateway's upstream name). */
  upstream: string;
  mode: PinMode;
  lock: LockWatcher;
  /** Pin what the upstream lists when the lock has nothing for it yet. Default true. */
  trustOnFirstUse?: boolean;
  /** Screening limits. Default {@link DEFAULT_SCREENING}. */
  screening?: Partial<ScreeningLimits>;
  audit: AuditLogger;
  metrics?: PinningMetrics;
  logger?: Logger;
}

/** Where pinning of one upstream stands, for the start-up posture. */
export interface PinPosture {
  upstream: string;
  mode: PinMode;
  lock: string;
  /** `pinned` (the lock has this upstream), `trust-on-first-use` (pinned by this start), `not pinned`, `lock unusable`. */
  state: 'pinned' | 'trust-on-first-use' | 'not pinned' | 'lock unusable';
  counts: Record<PinStatus, number>;
  blocked: number;
}

/** Who a refusal is recorded for. */
export interface RefusalContext {
  principal: Principal | undefined;
  requestId?: string | undefined;
  sessionId?: string | undefined;
}

/**
 * Pinning of one upstream at run time: judges what it lists against the
 * shared lock, leaves out and refuses what `enforce` blocks, pins on first
 * use, and reports drift (audit `tool.drift`, metrics) once per definition.
 */
export interface PinGuard {
  readonly upstream: string;
  readonly mode: PinMode;
  /**
   * The upstream's lists were read (at connection, or after its
   * `list_changed`): trust on first use if the lock has nothing for it,
   * judge them, report drift, set the gauges. Never rejects.
   */
  observe(definitions: DefinitionSet): Promise<void>;
  /** The items of a list that may be shown: all but the blocked ones. */
  visible<T>(kind: DefinitionKind, items: readonly T[]): T[];
  /** The verdict blocking the use of `name` among `items`; undefined when it is not blocked (or not listed). */
  blocking(kind: DefinitionKind, name: string, items: readonly unknown[]): Verdict | undefined;
  /** Records a refused use (audit `tool.blocked`, metric). */
  recordRefusal(verdict: Verdict, context: RefusalContext): Promise<void>;
  posture(): PinPosture;
  close(): void;
}

/** Most definitions whose drift is remembered as reported (each is reported once). */
const MAX_REPORTED = 10_000;

const EMPTY: DefinitionSet = { tools: [], prompts: [], resourceTemplates: [] };
const METHOD: Record<DefinitionKind, string> = { tool: 'tools/call', prompt: 'prompts/get', resourceTemplate: 'resources/read' };

/** Pinning for one upstream, on the shared lock. */
export function createPinGuard(options: PinGuardOptions): PinGuard {
  const { upstream, mode, lock, audit, metrics, logger } = options;
  const trustOnFirstUse = options.trustOnFirstUse ?? true;
  const limits: ScreeningLimits = { ...DEFAULT_SCREENING, ...options.screening };
  // Verdicts per list as listed (a refreshed list is a new array), recomputed when the lock changes.
  const cache = new WeakMap<object, { generation: number; byName: Map<string, Verdict[]>; byItem: Map<unknown, Verdict> }>();
  let last: DefinitionSet = EMPTY;
  let lastEvaluation: Evaluation | undefined;
  let tofu = false;
  let tofuTried = false;
  const reported = new Set<string>();
  const previous = new Map<string, PinStatus>();
  let chain: Promise<void> = Promise.resolve();

  const verdictsOf = (kind: DefinitionKind, items: readonly unknown[]) => {
    const generation = lock.generation();
    const hit = cache.get(items);
    if (hit && hit.generation === generation) return hit;
    const section = sectionOf(lock.state(), upstream);
    const byName = new Map<string, Verdict[]>();
    const byItem = new Map<unknown, Verdict>();
    for (const item of items) {
      const verdict = judge(kind, item as Definition, section, mode, limits);
      byItem.set(item, verdict);
      byName.set(verdict.name, [...(byName.get(verdict.name) ?? []), verdict]);
    }
    // A name listed twice is usable only when every definition under it is.
    for (const verdicts of byName.values()) {
      if (verdicts.length > 1 && verdicts.some((verdict) => verdict.status !== 'allowed')) {
        for (const verdict of verdicts)
          if (verdict.status === 'allowed') Object.assign(verdict, { status: 'drifted', blocked: mode === 'enforce' });
      }
    }
    const entry = { generation, byName, byItem };
    cache.set(items, entry);
    return entry;
  };

  const record = async (event: Parameters<AuditLogger['record']>[0]): Promise<void> => {
    try {
      await audit.record(event);
    } catch (error) {
      logger?.warn('pinning audit event not written', { upstream, error: describeError(error) });
    }
  };

  const report = async (evaluation: Evaluation): Promise<void> => {
    lastEvaluation = evaluation;
    metrics?.blocked.set({ upstream }, evaluation.blocked);
    for (const [status, count] of Object.entries(evaluation.counts)) metrics?.definitions.set({ upstream, status }, count);
    const now = new Map<string, PinStatus>();
    for (const verdict of evaluation.verdicts) {
      const id = `${verdict.kind}\0${verdict.name}`;
      const before = previous.get(id);
      now.set(id, verdict.status);
      if (verdict.status === 'allowed') {
        // Blocked or reported before, allowed now: someone approved it (the lock says who).
        if (before !== undefined && before !== 'allowed') {
          await record({
            type: 'tool.approved',
            action: `lock ${verdict.kind} ${reveal(verdict.name.slice(0, 200))}`,
            actor: { principalId: (verdict.locked?.approved?.by ?? 'tools pin').slice(0, 256) },
            outcome: { status: 'success' },
            details: { upstream, kind: verdict.kind, name: verdict.name.slice(0, 512), sha256: verdict.sha256 ?? null, seenBy: 'gateway' },
          });
        }
        continue;
      }
      const key = `${id}\0${verdict.sha256 ?? ''}\0${verdict.status}`;
      if (reported.has(key)) continue;
      if (reported.size >= MAX_REPORTED) reported.clear();
      reported.add(key);
      logger?.warn(
        `tool pinning: ${verdict.kind} ${reveal(verdict.name.slice(0, 128))} of upstream ${upstream} is ${verdict.status}${verdict.blocked ? ' and blocked' : ''}`,
        {
          upstream,
          mode,
          findings: verdict.findings.map(describeFinding).slice(0, 5),
        },
      );
      await record({
        type: 'tool.drift',
        action: `${verdict.kind} ${reveal(verdict.name.slice(0, 200))} ${verdict.status}`,
        outcome: { status: verdict.blocked ? 'denied' : 'failure', code: verdict.status },
        context: { mcpMethod: METHOD[verdict.kind], mcpName: verdict.name.slice(0, 256) },
        details: {
          upstream,
          mode,
          kind: verdict.kind,
          name: verdict.name.slice(0, 512),
          status: verdict.status,
          sha256: verdict.sha256 ?? null,
          lockedSha256: verdict.locked?.sha256 ?? null,
          findings: verdict.findings.map(describeFinding).join('; ').slice(0, 1024),
          blocked: verdict.blocked,
        },
      });
    }
    previous.clear();
    for (const [id, status] of now) previous.set(id, status);
  };

  const run = async (definitions: DefinitionSet): Promise<void> => {
    if (mode === 'off') return;
    last = definitions;
    let section = sectionOf(lock.state(), upstream);
    if (section.state === 'absent' && trustOnFirstUse && !tofuTried) {
      tofuTried = true;
      const outcome = await lock.pinFirstUse(upstream, definitions, limits);
      section = sectionOf(lock.state(), upstream);
      if (outcome === 'pinned') {
        tofu = true;
        const pinned = DEFINITION_KINDS.reduce((sum, kind) => sum + definitions[LIST_OF[kind]].length, 0);
        logger?.warn(
          `TRUST ON FIRST USE: the tool lock had nothing for upstream ${upstream}; pinned the ${pinned} definitions it lists now in ${lock.path}. Review that file and commit it: from now on a definition that differs from it is ${mode === 'enforce' ? 'refused' : 'reported'}.`,
          { code: 'MCPG_PIN_TOFU', upstream, lock: lock.path },
        );
        await record({
          type: 'tool.approved',
          action: 'trust on first use',
          actor: { principalId: 'trust-on-first-use' },
          outcome: { status: 'success' },
          details: { upstream, definitions: pinned, lock: lock.path.slice(-512) },
        });
      }
    }
    await report(evaluate(upstream, definitions, section, mode, limits));
  };

  const observe = (definitions: DefinitionSet): Promise<void> => {
    chain = chain
      .then(() => run(definitions))
      .catch((error: unknown) => {
        logger?.error('tool pinning check failed', { upstream, error: describeError(error) });
      });
    return chain;
  };

  // An approval (or any change of the lock) is judged at once against what the upstream lists now.
  const unsubscribe = lock.onChange(() => void observe(last));

  return {
    upstream,
    mode,
    observe,
    visible<T>(kind: DefinitionKind, items: readonly T[]): T[] {
      if (mode !== 'enforce') return [...items];
      const { byItem } = verdictsOf(kind, items);
      return items.filter((item) => !byItem.get(item)?.blocked);
    },
    blocking(kind, name, items) {
      if (mode !== 'enforce') return undefined;
      return verdictsOf(kind, items)
        .byName.get(name)
        ?.find((verdict) => verdict.blocked);
    },
    async recordRefusal(verdict, context) {
      metrics?.refused.inc({ upstream });
      const principal = context.principal;
      await audit.record({
        type: 'tool.blocked',
        action: `${METHOD[verdict.kind]} ${reveal(verdict.name.slice(0, 200))}`,
        actor: principal ? { principalId: principal.id, role: principal.role, authMethod: principal.authMethod } : {},
        outcome: { status: 'denied', code: verdict.status },
        context: {
          ...(context.requestId ? { requestId: context.requestId } : {}),
          ...(context.sessionId ? { sessionId: context.sessionId } : {}),
          ...(principal?.tenant ? { tenant: principal.tenant } : {}),
          mcpMethod: METHOD[verdict.kind],
          mcpName: verdict.name.slice(0, 256),
        },
        details: {
          upstream,
          kind: verdict.kind,
          status: verdict.status,
          sha256: verdict.sha256 ?? null,
          lockedSha256: verdict.locked?.sha256 ?? null,
        },
      });
    },
    posture() {
      const state = lock.state();
      const section = sectionOf(state, upstream);
      const counts = lastEvaluation?.counts ?? { allowed: 0, drifted: 0, new: 0, flagged: 0, unverifiable: 0 };
      return {
        upstream,
        mode,
        lock: lock.path,
        state:
          section.state === 'unreadable' ? 'lock unusable' : tofu ? 'trust-on-first-use' : section.state === 'ok' ? 'pinned' : 'not pinned',
        counts,
        blocked: lastEvaluation?.blocked ?? 0,
      };
    },
    close() {
      unsubscribe();
    },
  };
}
