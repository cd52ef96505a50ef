import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { strayAuditFiles, verifyAuditDir } from '../../audit/verify.js';
import type { CliCommand, CliIo } from '../command.js';

const USAGE = `Usage: mcp-guard audit verify [dir] [--key-file <path>]

  Verifies the hash chain of every audit stream in dir (default MCP_AUDIT_DIR or ./audit) against
  its checkpoint and reports the first record where an edit, deletion (at either end), insertion or
  reordering breaks it, a stream no writer vouched for, then what an intact trail still cannot prove.
  Exit code 0 when every chain is intact, 1 when one is broken, 2 on a usage error.
  A keyed trail (MCP_AUDIT_HMAC_KEY) is verified with the same key: --key-file, or the
  MCP_AUDIT_HMAC_KEY / MCP_AUDIT_HMAC_KEY_FILE variables.
`;

/**
 * The audit HMAC key from `--key-file`, `MCP_AUDIT_HMAC_KEY_FILE` or
 * `MCP_AUDIT_HMAC_KEY` (in that order), as the server reads it; undefined
 * when none is set. Shared by every command that reads or writes the trail.
 */
export function auditKeyOf(env: CliIo['env'], keyFile?: string): string | undefined {
  const file = keyFile ?? env.MCP_AUDIT_HMAC_KEY_FILE;
  if (file) return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  return env.MCP_AUDIT_HMAC_KEY || undefined;
}

/** `mcp-guard audit verify`: checks the tamper-evident audit trail. */
export const auditCommand: CliCommand = {
  name: 'audit',
  summary: 'Verify the audit trail: audit verify [dir]',
  async run(args, io) {
    let parsed;
    try {
      parsed = parseArgs({ args, allowPositionals: true, options: { 'key-file': { type: 'string' }, help: { type: 'boolean' } } });
    } catch (error) {
      io.stderr(`${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    const [sub, dirArg] = parsed.positionals;
    if (parsed.values.help || sub !== 'verify') {
      (parsed.values.help ? io.stdout : io.stderr)(USAGE);
      return parsed.values.help ? 0 : 2;
    }
    const dir = dirArg ?? io.env.MCP_AUDIT_DIR ?? './audit';
    let reports;
    let stray: string[];
    try {
      const key = auditKeyOf(io.env, parsed.values['key-file']);
      reports = verifyAuditDir(dir, key === undefined ? undefined : Buffer.from(key, 'utf8'));
      stray = strayAuditFiles(dir);
    } catch {
      io.stderr(`Cannot read the audit directory or key file.\n`);
      return 2;
    }
    if (reports.length === 0) {
      io.stderr(`No audit files in ${dir}.\n`);
      return 1;
    }
    let broken = false;
    for (const report of reports) {
      if (report.break) {
        broken = true;
        const { file, line, seq, reason, message } = report.break;
        const where = `${file}${line !== undefined ? `:${line}` : ''}${seq !== undefined ? ` (seq ${seq})` : ''}`;
        io.stdout(`${report.stream}: BROKEN at ${where}: ${reason}: ${message}\n`);
        io.stdout(`${report.stream}: ${report.records} records verified before the break\n`);
        continue;
      }
      const start = report.anchored ? ` (starts at seq ${report.firstSeq}: older files were removed by retention)` : '';
      const checkpoint = report.checkpoint
        ? `; checkpoint at seq ${report.checkpoint.seq}, ${report.checkpoint.time}${report.checkpoint.authenticated ? ', authenticated' : ', not authenticated'}`
        : '';
      io.stdout(
        `${report.stream}: OK, ${report.records} records in ${report.files} file(s), seq ${report.firstSeq ?? '-'}..${report.lastSeq ?? '-'}${start}${checkpoint}\n`,
      );
      for (const limit of report.unproven) io.stdout(`${report.stream}: cannot prove: ${limit}\n`);
    }
    if (stray.length > 0) io.stdout(`not verified, part of no stream: ${stray.join(', ')}\n`);
    return broken ? 1 : 0;
  },
};
