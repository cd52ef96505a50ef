import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, type ServerProcess } from '../helpers/process.js';
import { INITIALIZE, MCP_POST_HEADERS, TEST_TOKEN, tempDir } from '../helpers/server.js';

const posture = (started: ServerProcess) => started.lines.find((line) => line.includes('security posture')) ?? '';

async function initializeWith(mcpUrl: string, token: string): Promise<number> {
  const response = await fetch(mcpUrl, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${token}` },
    body: JSON.stringify(INITIALIZE),
  });
  await response.text();
  return response.status;
}

describe('.env files', () => {
  let dir: ReturnType<typeof tempDir>;
  let started: ServerProcess | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await started?.stop();
    started = undefined;
    dir.remove();
  });

  it('are never read implicitly: a .env in the working directory changes nothing', async () => {
    writeFileSync(join(dir.dir, '.env'), `MCP_AUTH_TOKEN=${TEST_TOKEN}\n`);
    started = await startProcess({}, { cwd: dir.dir });
    expect(posture(started)).toContain('"mode":"development"');
    expect(await initializeWith(started.mcpUrl, TEST_TOKEN)).toBe(401);
  });

  it('are read with `node --env-file=.env dist/main.js`, starting from a copy of .env.example', async () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    writeFileSync(join(dir.dir, '.env'), example.replace(/^MCP_AUTH_TOKEN=$/m, `MCP_AUTH_TOKEN=${TEST_TOKEN}`));
    // The process environment wins over the file: MCP_PORT=0 (from the helper) beats the file's 3000.
    started = await startProcess({}, { nodeArgs: ['--env-file=.env'], cwd: dir.dir });
    expect(posture(started)).toContain('"mode":"production"');
    expect(posture(started)).toContain(`"audit":"./audit"`);
    expect(await initializeWith(started.mcpUrl, TEST_TOKEN)).toBe(200);
    expect(started.lines.join('\n')).not.toContain(TEST_TOKEN);
  });
});
