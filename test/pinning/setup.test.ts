import { resolve } from 'node:path';
import { quickStartFile } from '../../src/cli/commands/gateway.js';
import { GatewayFileError, loadGatewayFile, parseGatewayFile } from '../../src/gateway/file.js';
import { createGatewayPinning, pinModeOf } from '../../src/pinning/setup.js';
import { createNullAuditLogger } from '../../src/audit/types.js';
import { Registry } from 'prom-client';

const fileWith = (pinning?: Record<string, unknown>) =>
  JSON.stringify({ upstreams: { files: { command: 'node', args: ['server.js'], ...(pinning ? { pinning } : {}) } } });

describe('pinning defaults', () => {
  it('defaults to enforce in production, warn in development mode and for the quick start', () => {
    const loaded = loadGatewayFile('/etc/mcp/gateway.json', () => fileWith());
    expect(loaded.lockPath).toBe('/etc/mcp/tools.lock.json');
    const spec = loaded.upstreams[0]!;
    expect(pinModeOf(spec, loaded, false)).toBe('enforce');
    expect(pinModeOf(spec, loaded, true)).toBe('warn');
    const quick = quickStartFile(['--upstream', 'http://127.0.0.1:9/mcp'], {});
    expect(quick.lockPath).toBe(resolve('tools.lock.json'));
    expect(pinModeOf(quick.upstreams[0]!, quick, false)).toBe('warn');
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
