import { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

/** What the development token file holds: where the server listens and the token it accepts. */
export interface DevTokenFile {
  /** The MCP endpoint, e.g. `http://127.0.0.1:3000/mcp`. */
  url: string;
  token: string;
  /** The server process; the token dies with it. */
  pid: number;
}

/**
 * Writes the development token file privately: its directory is created with
 * mode 0700 and must belong to this user and be closed to others (a shared
 * directory such as /tmp is refused), the file gets mode 0600 and replaces
 * any old one atomically. Throws with a reason when it cannot.
 */
export function writeDevTokenFile(path: string, content: DevTokenFile): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (stat.mode & 0o077) !== 0 || (uid !== undefined && stat.uid !== uid)) {
    throw new Error(`${dir} must be a directory of yours that others cannot read (chmod 700 it)`);
  }
  const temp = join(dir, `.dev-token-${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(temp, `${JSON.stringify(content)}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(temp, path);
}

/**
 * Reads the development token file for `mcp-guard dev`; throws an error whose
 * message tells the user what to do (start the server, pass `--file`).
 */
export function readDevTokenFile(path: string): DevTokenFile {
  let parsed: Partial<DevTokenFile>;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<DevTokenFile>;
  } catch {
    throw new Error(
      `no development token at ${path}: start the server in development mode (npm start, no credential configured) from this directory, or pass --file`,
    );
  }
  if (typeof parsed.url !== 'string' || typeof parsed.token !== 'string' || typeof parsed.pid !== 'number') {
    throw new Error(`${path} is not a development token file`);
  }
  try {
    process.kill(parsed.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') {
      throw new Error(`the server that wrote ${path} (pid ${parsed.pid}) is no longer running, and its token died with it: start it again`);
    }
  }
  return parsed as DevTokenFile;
}

/** Removes the file when it still holds `token` (a newer server may have replaced it). */
export function removeDevTokenFile(path: string, token: string): void {
  try {
    if ((JSON.parse(readFileSync(path, 'utf8')) as Partial<DevTokenFile>).token === token) rmSync(path);
  } catch {
    // Already gone or replaced: nothing of ours to remove.
  }
}
