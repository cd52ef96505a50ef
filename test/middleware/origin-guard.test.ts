import { checkOrigin, hostnameOf, type OriginPolicy } from '../../src/middleware/origin-guard.js';

const policy = (origins: string[], hosts: string[]): OriginPolicy => ({
  origins: new Set(origins),
  anyOrigin: origins.includes('*'),
  hosts: new Set(hosts),
});
const loopback = policy([], ['localhost', '127.0.0.1', '[::1]']);

describe('checkOrigin', () => {
  it('passes a request without Origin to an allowed host (a non-browser client)', () => {
    expect(checkOrigin(undefined, '127.0.0.1:3000', loopback)).toEqual({ ok: true });
    expect(checkOrigin(undefined, 'localhost', loopback)).toEqual({ ok: true });
    expect(checkOrigin(undefined, '[::1]:3000', loopback)).toEqual({ ok: true });
  });

  it('refuses a Host that is not allowed, as a DNS-rebinding page would send', () => {
    expect(checkOrigin(undefined, 'evil.example:3000', loopback)).toEqual({ ok: false, code: 'host_not_allowed' });
    expect(checkOrigin('http://evil.example:3000', 'evil.example:3000', loopback)).toEqual({ ok: false, code: 'host_not_allowed' });
    expect(checkOrigin(undefined, undefined, loopback)).toEqual({ ok: false, code: 'host_not_allowed' });
    expect(checkOrigin(undefined, 'localhost.evil.example', loopback)).toEqual({ ok: false, code: 'host_not_allowed' });
  });

  it('treats a trailing dot and upper case in Host as the same host', () => {
    expect(checkOrigin(undefined, 'LOCALHOST.:3000', loopback)).toEqual({ ok: true });
  });

  it('refuses a foreign Origin even on an allowed Host', () => {
    expect(checkOrigin('https://evil.example', '127.0.0.1:3000', loopback)).toEqual({ ok: false, code: 'origin_not_allowed' });
    expect(checkOrigin('null', '127.0.0.1:3000', loopback)).toEqual({ ok: false, code: 'origin_not_allowed' });
    expect(checkOrigin('http://localhost:9999', 'localhost:3000', loopback)).toEqual({ ok: false, code: 'origin_not_allowed' });
  });

  it('accepts an allowlisted Origin and the server its own origin', () => {
    const withApp = policy(['https://app.example'], ['localhost']);
    expect(checkOrigin('https://app.example', 'localhost:3000', withApp)).toEqual({ ok: true });
    expect(checkOrigin('http://localhost:3000', 'localhost:3000', withApp)).toEqual({ ok: true });
  });

  it('does not check Host when no host is configured, but still checks Origin', () => {
    const open = policy(['https://app.example'], []);
    expect(checkOrigin(undefined, 'anything.example', open)).toEqual({ ok: true });
    expect(checkOrigin('http://anything.example', 'anything.example', open)).toEqual({ ok: false, code: 'origin_not_allowed' });
  });
});

describe('hostnameOf', () => {
  it('strips the port and rejects malformed values', () => {
    expect(hostnameOf('Example.COM:8080')).toBe('example.com');
    expect(hostnameOf('[::1]:80')).toBe('[::1]');
    expect(hostnameOf('a b')).toBeUndefined();
    expect(hostnameOf('host:99999999')).toBeUndefined();
  });
});
