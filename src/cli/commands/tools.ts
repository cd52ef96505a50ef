import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { openJsonlAuditLogger } from '../../audit/jsonl-writer.js';
import type { AuditEventInput } from '../../audit/event.js';
import { GatewayFileError, loadGatewayFile, type GatewayFile, type UpstreamSpec } from '../../gateway/file.js';
import { describeError } from '../../logging/redact.js';
import { keyOf, LIST_OF, type DefinitionKind, type DefinitionSet } from '../../pinning/canonical.js';
import { formatEvaluation } from '../../pinning/diff.js';
import { approvalEvents, ApprovalError, approveInLock, parseDefinitionName } from '../../pinning/approve.js';
import { entryOf, evaluate, sectionFor, sectionOf } from '../../pinning/evaluate.js';
import { LockFileError, readLock, updateLock } from '../../pinning/lock.js';
import { readUpstreamDefinitions } from '../../pinning/live.js';
import { DEFAULT_SCREENING, reveal, type ScreeningLimits } from '../../pinning/screen.js';
import type { CliCommand, CliIo } from '../command.js';
import { auditKeyOf } from './audit.js';

const USAGE = `Usage: mcp-guard tools <pin|diff|approve> [options]

Tool-definition pinning (docs/pinning.md): the gateway file's upstreams,
as they list their tools, prompts and resource templates now, against the
tool lock (tools.lock.json beside the gateway file).

  pin                 pin every upstream the lock has nothing for, as it lists now
                      (an upstream already pinned is left alone: use diff and approve)
  diff                what differs from the lock: description text, schema changes,
                      hidden text; exit code 1 when something differs, 0 when nothing does
  approve NAME...     pin what the upstream lists now under each NAME, approved by you:
                      a tool name, prompt:NAME, or template:URI_TEMPLATE; a name no
                      longer listed is dropped from the lock

Options:
  --file <path>       the gateway file (default MCP_GATEWAY_FILE)
  --upstream <name>   only this upstream
  --by <who>          approve: who approves, recorded with your OS user in the lock
                      and in the audit trail (MCP_AUDIT_DIR, stream "cli")
`;

class UsageError extends Error {}

/** The OS user running the command: recorded with every approval. */
function osUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

async function recordAudit(io: CliIo, events: AuditEventInput[]): Promise<void> {
  if (events.length === 0 || ['false', '0', 'no', 'off'].includes((io.env.MCP_AUDIT_ENABLED ?? '').toLowerCase())) return;
  const hmacKey = auditKeyOf(io.env);
  const audit = await openJsonlAuditLogger({ dir: io.env.MCP_AUDIT_DIR || './audit', stream: 'cli', ...(hmacKey ? { hmacKey } : {}) });
  try {
    for (const event of events) await audit.record(event);
  } finally {
    await audit.close();
  }
}

const limitsOf = (spec: UpstreamSpec): ScreeningLimits => ({
  ...DEFAULT_SCREENING,
  maxDescriptionLength: spec.pinning.maxDescriptionLength,
});
const LABEL: Record<DefinitionKind, string> = { tool: 'tool', prompt: 'prompt', resourceTemplate: 'resource template' };

/** Reads every upstream's lists; an upstream that cannot be reached is an error naming it. */
async function readAll(upstreams: UpstreamSpec[], io: CliIo): Promise<Map<string, DefinitionSet>> {
  const lists = new Map<string, DefinitionSet>();
  for (const spec of upstreams) {
    try {
      lists.set(spec.name, await readUpstreamDefinitions(spec, io.env));
    } catch (error) {
      throw new Error(`upstream ${spec.name} cannot be reached: ${describeError(error).message}`);
    }
  }
  return lists;
}

async function pin(file: GatewayFile, upstreams: UpstreamSpec[], io: CliIo): Promise<number> {
  const lockPath = file.lockPath!;
  const lists = await readAll(upstreams, io);
  const who = osUser();
  const events: AuditEventInput[] = [];
  const pinned = await updateLock(lockPath, (lock) => {
    const added: string[] = [];
    for (const spec of upstreams) {
      if (Object.hasOwn(lock.upstreams, spec.name)) continue;
      lock.upstreams[spec.name] = sectionFor(lists.get(spec.name)!, `mcp-guard tools pin (os user ${who})`, new Date(), limitsOf(spec));
      added.push(spec.name);
    }
    return { ...(added.length ? { lock } : {}), result: added };
  });
  const state = readLock(lockPath);
  for (const spec of upstreams) {
    if (!pinned.includes(spec.name)) {
      io.stdout(`Upstream ${spec.name} is already pinned in ${lockPath}: see mcp-guard tools diff, then mcp-guard tools approve.\n`);
      continue;
    }
    const section = state.state === 'ok' ? state.lock.upstreams[spec.name] : undefined;
    const counts = section
      ? `${Object.keys(section.tools).length} tools, ${Object.keys(section.prompts).length} prompts, ${Object.keys(section.resourceTemplates).length} resource templates`
      : '';
    io.stdout(`Pinned upstream ${spec.name}: ${counts} in ${lockPath}.\n`);
    const flagged = evaluate(spec.name, lists.get(spec.name)!, sectionOf(state, spec.name), 'enforce', limitsOf(spec)).verdicts.filter(
      (verdict) => verdict.status !== 'allowed',
    );
    for (const verdict of flagged) {
      io.stdout(
        `  ${LABEL[verdict.kind]} ${reveal(verdict.name)} is ${verdict.status}: it stays blocked until approved (mcp-guard tools diff shows why).\n`,
      );
    }
    events.push({
      type: 'tool.approved',
      action: 'tools pin',
      actor: { principalId: who, authMethod: 'cli' },
      outcome: { status: 'success' },
      details: { upstream: spec.name, osUser: who, lock: lockPath.slice(-512), flagged: flagged.length },
    });
  }
  await recordAudit(io, events);
  io.stdout('Review the lock (it holds every definition as pinned) and commit it.\n');
  return 0;
}

async function diff(file: GatewayFile, upstreams: UpstreamSpec[], io: CliIo): Promise<number> {
  const state = readLock(file.lockPath!);
  if (state.state === 'unreadable') {
    io.stderr(`The tool lock ${file.lockPath} cannot be used: ${state.reason}\n`);
    return 2;
  }
  const lists = await readAll(upstreams, io);
  let differs = false;
  for (const spec of upstreams) {
    const section = sectionOf(state, spec.name);
    if (section.state !== 'ok') {
      differs = true;
      io.stdout(`upstream ${spec.name}: nothing pinned yet (mcp-guard tools pin)\n`);
      continue;
    }
    const evaluation = evaluate(spec.name, lists.get(spec.name)!, section, spec.pinning.mode ?? 'enforce', limitsOf(spec));
    const lines = formatEvaluation(evaluation);
    if (lines.length === 0) {
      io.stdout(`upstream ${spec.name}: matches the lock\n`);
      continue;
    }
    differs = true;
    io.stdout(`upstream ${spec.name}:\n${lines.join('\n')}\n`);
  }
  return differs ? 1 : 0;
}

async function approve(file: GatewayFile, upstreams: UpstreamSpec[], names: string[], by: string | undefined, io: CliIo): Promise<number> {
  if (names.length === 0) throw new UsageError('approve needs at least one NAME');
  const wanted = names.map(parseDefinitionName);
  const lists = await readAll(upstreams, io);
  const state = readLock(file.lockPath!);
  if (state.state === 'unreadable') throw new LockFileError(`The tool lock cannot be used: ${state.reason}`);
  // Each name in the one upstream that lists it or pins it.
  const targets = wanted.map(({ kind, name }) => {
    const found = upstreams.filter((spec) => {
      const listed = lists.get(spec.name)![LIST_OF[kind]].some((definition) => keyOf(kind, definition) === name);
      const section = sectionOf(state, spec.name);
      return listed || (section.state === 'ok' && entryOf(section.section, kind, name) !== undefined);
    });
    if (found.length === 0) throw new UsageError(`no upstream lists or pins the ${LABEL[kind]} ${reveal(name)}`);
    if (found.length > 1)
      throw new UsageError(
        `the ${LABEL[kind]} ${reveal(name)} is in several upstreams (${found.map((spec) => spec.name).join(', ')}): give --upstream`,
      );
    return { kind, name, spec: found[0]! };
  });
  const user = osUser();
  const approver = by ? `${by} (os user ${user})` : user;
  const done = await approveInLock(
    file.lockPath!,
    targets.map(({ kind, name, spec }) => ({
      upstream: spec.name,
      kind,
      name,
      definitions: lists.get(spec.name)!,
      limits: limitsOf(spec),
    })),
    approver,
  );
  for (const result of done) {
    const what = `${LABEL[result.kind]} ${reveal(result.name)} of upstream ${result.upstream}`;
    if (result.sha256) io.stdout(`Approved ${what}: ${result.sha256}, by ${approver}.\n`);
    else io.stdout(`Dropped ${what} from the lock: the upstream no longer lists it.\n`);
    for (const finding of result.findings) io.stdout(`  accepted screening finding: ${finding}\n`);
  }
  const events = approvalEvents(done, { by, osUser: user, authMethod: 'cli' });
  await recordAudit(io, events);
  io.stdout(`Written to ${file.lockPath}. Each gateway replica sees it within its lock poll (2 s by default), or at once on SIGHUP.\n`);
  return 0;
}

/** `mcp-guard tools pin|diff|approve`: tool-definition pinning (docs/pinning.md). */
export const toolsCommand: CliCommand = {
  name: 'tools',
  summary: 'Tool-definition pinning: tools pin | diff | approve NAME...',
  async run(args, io) {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: { file: { type: 'string' }, upstream: { type: 'string' }, by: { type: 'string' }, help: { type: 'boolean' } },
      });
    } catch (error) {
      io.stderr(`tools: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    const [action, ...names] = parsed.positionals;
    if (parsed.values.help || !action || !['pin', 'diff', 'approve'].includes(action)) {
      (parsed.values.help ? io.stdout : io.stderr)(USAGE);
      return parsed.values.help ? 0 : 2;
    }
    try {
      const path = parsed.values.file ?? io.env.MCP_GATEWAY_FILE;
      if (!path) throw new UsageError('give the gateway file with --file or MCP_GATEWAY_FILE');
      if (action !== 'approve' && names.length) throw new UsageError(`unexpected argument "${names[0]!.slice(0, 64)}"`);
      if (parsed.values.by !== undefined && (action !== 'approve' || !/^[^\p{C}]{1,128}$/u.test(parsed.values.by)))
        throw new UsageError('--by applies to approve, and names who approves in 1 to 128 printable characters');
      const file = loadGatewayFile(path);
      const only = parsed.values.upstream;
      const upstreams = only ? file.upstreams.filter((spec) => spec.name === only) : file.upstreams;
      if (only && upstreams.length === 0) throw new UsageError(`the gateway file has no upstream ${only.slice(0, 64)}`);
      if (action === 'pin') return await pin(file, upstreams, io);
      if (action === 'diff') return await diff(file, upstreams, io);
      return await approve(file, upstreams, names, parsed.values.by, io);
    } catch (error) {
      if (error instanceof UsageError || error instanceof ApprovalError) io.stderr(`tools ${action}: ${error.message}\n`);
      else if (error instanceof GatewayFileError || error instanceof LockFileError) io.stderr(`${error.message}\n`);
      else io.stderr(`tools ${action}: ${describeError(error).message}\n`);
      return 2;
    }
  },
};
