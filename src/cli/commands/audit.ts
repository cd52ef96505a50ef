import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { verifyAuditDir } from '../../audit/verify.js';
import type { CliCommand, CliIo } from '../command.js';

const USAGE = `Usage: mcp-guard audit verify [dir] [--key-file <path>]

  Verifies the hash chain of every audit stream in dir (default MCP_AUDIT_DIR or ./audit) and
  reports the first record where an edit, deletion, insertion or reordering breaks it.
  Exit code 0 when every chain is intact, 1 when one is broken, 2 on a usage error.
  A keyed trail (MCP_AUDIT_HMAC_KEY) is verified with the same key: --key-file, or the
  MCP_AUDIT_HMAC_KEY / MCP_AUDIT_HMAC_KEY_FILE variables.
`;

function keyOf(io: CliIo, keyFile: string | undefined): Buffer | undefined {
  const file = keyFile ?? io.env.MCP_AUDIT_HMAC_KEY_FILE;
  if (file) return Buffer.from(readFileSync(file, 'utf8').replace(/\r?\n$/, ''), 'utf8');
  return io.env.MCP_AUDIT_HMAC_KEY ? Buffer.from(io.env.MCP_AUDIT_HMAC_KEY, 'utf8') : undefined;
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
    try {
      reports = verifyAuditDir(dir, keyOf(io, parsed.values['key-file']));
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
        const where = `${report.break.file}:${report.break.line}${report.break.seq !== undefined ? ` (seq ${report.break.seq})` : ''}`;
        io.stdout(`${report.stream}: BROKEN at ${where}: ${report.break.reason}: ${report.break.message}\n`);
        io.stdout(`${report.stream}: ${report.records} records verified before the break\n`);
      } else {
        const start = report.anchored ? ` (starts at seq ${report.firstSeq}: older files were removed)` : '';
        io.stdout(
          `${report.stream}: OK, ${report.records} records in ${report.files} file(s), seq ${report.firstSeq ?? '-'}..${report.lastSeq ?? '-'}${start}\n`,
        );
      }
    }
    return broken ? 1 : 0;
  },
};
