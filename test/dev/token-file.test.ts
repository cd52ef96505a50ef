import { chmodSync, existsSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readDevTokenFile, removeDevTokenFile, writeDevTokenFile } from '../../src/dev/token-file.js';
import { tempDir } from '../helpers/server.js';

const content = (token: string, pid = process.pid) => ({ url: 'http://127.0.0.1:3000/mcp', token, pid });

describe('the development token file', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.remove());

  it('is written with mode 0600 in a directory created with mode 0700, and read back', () => {
    const path = join(dir.dir, 'nested', 'dev-token.json');
    writeDevTokenFile(path, content('mcpg_sess_a'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir.dir, 'nested')).mode & 0o777).toBe(0o700);
    expect(readDevTokenFile(path)).toEqual(content('mcpg_sess_a'));
  });

  it('is never written into a directory others can read, nor through a symbolic link to one', () => {
    const shared = join(dir.dir, 'shared');
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(shared, 0o755);
    expect(() => writeDevTokenFile(join(shared, 'dev-token.json'), content('x'))).toThrow(/chmod 700/);
    const link = join(dir.dir, 'link');
    symlinkSync(shared, link);
    expect(() => writeDevTokenFile(join(link, 'dev-token.json'), content('x'))).toThrow(/chmod 700/);
    expect(existsSync(join(shared, 'dev-token.json'))).toBe(false);
  });

  it('says to start the server when it is missing, and that the server died when its process is gone', () => {
    expect(() => readDevTokenFile(join(dir.dir, 'none.json'))).toThrow(/start the server/);
    const path = join(dir.dir, 'dev', 'dev-token.json');
    writeDevTokenFile(path, content('x', 2 ** 22 + 12345)); // above Linux's pid_max default: no such process
    expect(() => readDevTokenFile(path)).toThrow(/no longer running/);
  });

  it('is removed on shutdown only while it still holds this server’s token', () => {
    const path = join(dir.dir, 'dev', 'dev-token.json');
    writeDevTokenFile(path, content('newer-server'));
    removeDevTokenFile(path, 'older-server');
    expect(existsSync(path)).toBe(true);
    removeDevTokenFile(path, 'newer-server');
    expect(existsSync(path)).toBe(false);
  });
});
