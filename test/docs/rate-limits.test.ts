import { readFileSync } from 'node:fs';
import { LIMIT_LEVELS } from '../../src/middleware/rate-limit/levels.js';

const levels = Object.entries(LIMIT_LEVELS) as [keyof typeof LIMIT_LEVELS, (typeof LIMIT_LEVELS)[keyof typeof LIMIT_LEVELS]][];

/** The table rows of docs/configuration.md between the rate-limit markers, as cells. */
function documentedRows(): string[][] {
  const doc = readFileSync('docs/configuration.md', 'utf8');
  const table = /<!-- rate-limit-levels:begin -->([\s\S]*?)<!-- rate-limit-levels:end -->/.exec(doc)?.[1] ?? '';
  return table
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

function describeDefault(value: { limit: number; windowMs: number } | { perMinute: number; burst: number }): string {
  if ('limit' in value) return `${value.limit} per ${value.windowMs / 1000} s`;
  return `${value.perMinute} per minute, burst ${value.burst}`;
}

describe('the rate-limit levels in the docs', () => {
  it('describes each rate-limit level as the code defines it', () => {
    const rows = documentedRows();
    expect(rows.map((row) => row[0])).toEqual(levels.map(([name]) => `\`${name}\``));
    for (const [name, level] of levels) {
      const row = rows.find((cells) => cells[0] === `\`${name}\``)!;
      expect(row.slice(1)).toEqual([
        level.counts,
        level.checked,
        describeDefault(level.default),
        level.env.map((v) => `\`${v}\``).join(', '),
      ]);
    }
  });

  it('gives .env.example the defaults the code has', () => {
    const example = readFileSync('.env.example', 'utf8');
    const valueOf = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(example)?.[1];
    const { ip, principal, tool, global } = LIMIT_LEVELS;
    expect(valueOf(ip.env[0]!)).toBe(String(ip.default.limit));
    expect(valueOf(ip.env[1]!)).toBe(`${ip.default.windowMs / 60_000}m`);
    for (const level of [principal, tool, global]) {
      expect(valueOf(level.env[0]!)).toBe(String(level.default.perMinute));
      expect(valueOf(level.env[1]!)).toBe(String(level.default.burst));
    }
  });
});
