import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as api from '../../src/index.js';

describe('the public API', () => {
  it('is exactly what docs/library.md lists', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'library.md'), 'utf8');
    const section = doc.slice(doc.indexOf('<!-- public-api:begin -->'), doc.indexOf('<!-- public-api:end -->'));
    const documented = [...section.matchAll(/`([A-Za-z_]+)`/g)].map((match) => match[1]!).sort();
    expect(documented).toEqual(Object.keys(api).sort());
  });
});
