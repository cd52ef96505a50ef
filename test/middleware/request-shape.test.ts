import { hostHeaderCount, isBrowserRequest } from '../../src/middleware/request-shape.js';

describe('isBrowserRequest', () => {
  it('recognises each header only a browser sends on its own', () => {
    for (const name of ['origin', 'referer', 'cookie', 'sec-fetch-site', 'sec-fetch-dest', 'sec-fetch-user']) {
      expect(isBrowserRequest({ host: 'localhost', [name]: 'x' })).toBe(true);
    }
  });

  it('does not count probes, curl, or Node fetch (which sends Sec-Fetch-Mode alone)', () => {
    expect(isBrowserRequest({ host: '10.1.2.3:3000', 'user-agent': 'kube-probe/1.30', accept: '*/*' })).toBe(false);
    expect(isBrowserRequest({ host: 'localhost', 'sec-fetch-mode': 'cors', 'user-agent': 'node' })).toBe(false);
  });
});

describe('hostHeaderCount', () => {
  it('counts Host headers in any case', () => {
    expect(hostHeaderCount(['Host', 'a', 'Accept', '*/*'])).toBe(1);
    expect(hostHeaderCount(['Host', 'a', 'host', 'b', 'HOST', 'c'])).toBe(3);
    expect(hostHeaderCount(['Accept', 'host'])).toBe(0);
  });
});
