import { resolve } from 'node:path';
import { announcePinning, quickStartFile } from '../../src/cli/commands/gateway.js';
import { captureLogger } from './helpers.js';
import { GatewayFileError, loadGatewayFile, parseGatewayFile } from '../../src/gateway/file.js';
import { createGatewayPinning, pinModeOf } from '../../src/pinning/setup.js';
import { createNullAuditLogger } from '../../src/audit/types.js';
import { Registry } from 'prom-client';

const fileWith = (pinning?: Record<string, unknown>) =>
  JSON.stringify({ upstreams: { files: { command: 'node', args: ['server.js'], ...(pinning ? { pinning } : {}) } } });

describe('pinning defaults', () => {
  it('defaults to enforce in production and warn in development mode; the quick start pins only with --lock, in warn', () => {
    const loaded = loadGatewayFile('/etc/mcp/gateway.json', () => fileWith());
    expect(loaded.lockPath).toBe('/etc/mcp/tools.lock.json');
    const spec = loaded.upstreams[0]!;
    expect(pinModeOf(spec, loaded, false)).toBe('enforce');
    expect(pinModeOf(spec, loaded, true)).toBe('warn');
    const quick = quickStartFile(['--upstream', 'http://127.0.0.1:9/mcp'], {});
    expect(quick.lockPath).toBeUndefined();
    expect(pinModeOf(quick.upstreams[0]!, quick, false)).toBe('off');
    const locked = quickStartFile(['--upstream', 'http://127.0.0.1:9/mcp', '--lock', 'my.lock.json'], {});
    expect(locked.lockPath).toBe(resolve('my.lock.json'));
    expect(pinModeOf(locked.upstreams[0]!, locked, false)).toBe('warn');
  });

  it('follows the file: an explicit mode wins, the lock may live elsewhere relative to the file', () => {
    const loaded = loadGatewayFile('/etc/mcp/gateway.json', () => fileWith({ mode: 'off' }));
    expect(pinModeOf(loaded.upstreams[0]!, loaded, false)).toBe('off');
    const moved = loadGatewayFile('/etc/mcp/gateway.json', () =>
      JSON.stringify({ lock: '../state/locks.json', upstreams: JSON.parse(fileWith()).upstreams }),
    );
    expect(moved.lockPath).toBe('/etc/state/locks.json');
    expect(() => parseGatewayFile(fileWith({ mode: 'strict' }))).toThrow(/upstreams\.files\.pinning\.mode/);
  });

  it('is off for a gateway file built in code, and refuses a mode asked for without a lock path', () => {
    const built = parseGatewayFile(fileWith());
    expect(pinModeOf(built.upstreams[0]!, built, false)).toBe('off');
    const asked = parseGatewayFile(fileWith({ mode: 'enforce' }));
    expect(() => createGatewayPinning({ file: asked, devMode: false, audit: createNullAuditLogger(), registry: new Registry() })).toThrow(
      GatewayFileError,
    );
  });
});

describe('the pinning posture at start-up', () => {
  const counts = { allowed: 3, drifted: 0, new: 0, flagged: 0, unverifiable: 0 };
  const posture = {
    upstream: 'files',
    mode: 'enforce' as const,
    lock: '/etc/mcp/tools.lock.json',
    state: 'pinned' as const,
    counts,
    blocked: 0,
  };

  it('logs each upstream’s mode, lock and state, and says loudly what is blocked, unpinned, unusable or not pinned at all', () => {
    const { logger, lines } = captureLogger();
    announcePinning(
      [
        posture,
        { ...posture, upstream: 'search', blocked: 2, counts: { ...counts, drifted: 2 } },
        { ...posture, upstream: 'mail', state: 'not pinned' },
        { ...posture, upstream: 'wiki', state: 'lock unusable' },
      ],
      ['quick'],
      logger,
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'info',
        message: 'tool pinning',
        upstream: 'files',
        mode: 'enforce',
        state: 'pinned',
        allowed: 3,
        blocked: 0,
      }),
    );
    expect(lines.map((line) => [line.level, line.code])).toEqual(
      expect.arrayContaining([
        ['warn', 'MCPG_PIN_BLOCKED'],
        ['warn', 'MCPG_PIN_NOT_PINNED'],
        ['error', 'MCPG_PIN_LOCK_UNUSABLE'],
        ['warn', 'MCPG_PIN_OFF'],
      ]),
    );
    expect(lines.filter((line) => line.code !== undefined)).toHaveLength(4);
  });
});
