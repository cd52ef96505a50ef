import type { AuditEventInput } from '../audit/event.js';
import { keyOf, LIST_OF, type DefinitionKind, type DefinitionSet } from './canonical.js';
import { entryFor, entryOf } from './evaluate.js';
import { updateLock } from './lock.js';
import { reveal, type ScreeningLimits } from './screen.js';

/** One name to approve: what its upstream lists now. */
export interface ApprovalTarget {
  upstream: string;
  kind: DefinitionKind;
  name: string;
  /** Everything the upstream lists now. */
  definitions: DefinitionSet;
  limits: ScreeningLimits;
}

/** What an approval did: pinned a definition (`sha256`), or dropped a name no longer listed. */
export interface ApprovalResult {
  upstream: string;
  kind: DefinitionKind;
  name: string;
  sha256?: string;
  previousSha256?: string;
  /** The screening findings accepted with it. */
  findings: string[];
}

/** Thrown for a name that cannot be approved; the message names it (hidden characters revealed). */
export class ApprovalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApprovalError';
  }
}

/** A name as people write it: a tool name, `prompt:NAME` or `template:URI_TEMPLATE`. */
export function parseDefinitionName(argument: string): { kind: DefinitionKind; name: string } {
  if (argument.startsWith('prompt:')) return { kind: 'prompt', name: argument.slice('prompt:'.length) };
  if (argument.startsWith('template:')) return { kind: 'resourceTemplate', name: argument.slice('template:'.length) };
  return { kind: 'tool', name: argument };
}

const LABEL: Record<DefinitionKind, string> = { tool: 'tool', prompt: 'prompt', resourceTemplate: 'resource template' };

/**
 * Pins each target's definition as listed now in the lock, approved by
 * `approver` (a name no longer listed is dropped), all or none: one write
 * under the lock's file lock. A name listed twice, or too large to pin, is
 * refused with an {@link ApprovalError} and nothing is written.
 */
export async function approveInLock(
  lockPath: string,
  targets: readonly ApprovalTarget[],
  approver: string,
  at = new Date(),
): Promise<ApprovalResult[]> {
  return updateLock(lockPath, (lock) => {
    const results: ApprovalResult[] = [];
    for (const { upstream, kind, name, definitions, limits } of targets) {
      const listed = definitions[LIST_OF[kind]].filter((definition) => keyOf(kind, definition) === name);
      if (listed.length > 1)
        throw new ApprovalError(`upstream ${upstream} lists the ${LABEL[kind]} ${reveal(name)} more than once: it cannot be approved`);
      lock.upstreams[upstream] ??= {
        pinned: { by: `approval (${approver})`, at: at.toISOString() },
        tools: {},
        prompts: {},
        resourceTemplates: {},
      };
      const section = lock.upstreams[upstream]!;
      const previousSha256 = entryOf(section, kind, name)?.sha256;
      const map = section[LIST_OF[kind]];
      const previous = previousSha256 ? { previousSha256 } : {};
      if (listed.length === 0) {
        delete map[name];
        results.push({ upstream, kind, name, ...previous, findings: [] });
        continue;
      }
      const entry = entryFor(listed[0]!, limits, { by: approver, at });
      if (!entry) throw new ApprovalError(`the ${LABEL[kind]} ${reveal(name)} of upstream ${upstream} is too large to pin`);
      map[name] = entry;
      results.push({ upstream, kind, name, sha256: entry.sha256, ...previous, findings: entry.findings ?? [] });
    }
    return { lock, result: results };
  });
}

/** The `tool.approved` audit events of approvals: who (`by`, else the OS user), what, the hashes before and after. */
export function approvalEvents(
  results: readonly ApprovalResult[],
  who: { by?: string | undefined; osUser: string; authMethod: string },
): AuditEventInput[] {
  return results.map((result) => ({
    type: 'tool.approved',
    action: `approve ${result.kind} ${result.name.slice(0, 200)}`,
    actor: { principalId: (who.by ?? who.osUser).slice(0, 256), authMethod: who.authMethod },
    outcome: { status: 'success', ...(result.sha256 ? {} : { code: 'removed' }) },
    context: { mcpName: result.name.slice(0, 256) },
    details: {
      upstream: result.upstream,
      kind: result.kind,
      name: result.name.slice(0, 512),
      sha256: result.sha256 ?? null,
      previousSha256: result.previousSha256 ?? null,
      osUser: who.osUser,
      by: who.by ?? null,
      findings: result.findings.join('; ').slice(0, 1024),
    },
  }));
}
