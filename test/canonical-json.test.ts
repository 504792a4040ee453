import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../agent/canonical-json.js';

/** The plain reading of RFC 8785 for our value types, kept simple on purpose to check the fast one against. */
function reference(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('non-finite');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
  }
  throw new TypeError(typeof value);
}

function randomValue(rand: () => number, depth: number): unknown {
  const pick = Math.floor(rand() * (depth > 3 ? 5 : 7));
  const strings = ['', 'a', 'B', 'é', '€', '\ufb01', '😀', '"q"', 'back\\slash', 'line\nbreak', '\u0001', '视频监控'];
  const str = () => strings[Math.floor(rand() * strings.length)]! + (rand() < 0.3 ? String(Math.floor(rand() * 100)) : '');
  switch (pick) {
    case 0: return null;
    case 1: return rand() < 0.5;
    case 2: return Math.floor((rand() - 0.5) * 2 ** 40);
    case 3: return rand() * 1000 - 500;
    case 4: return str();
    case 5: return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(rand() * 5); i > 0; i--) o[str()] = rand() < 0.1 ? undefined : randomValue(rand, depth + 1);
      return o;
    }
  }
}

describe('canonical JSON', () => {
  it('sorts keys by UTF-16 code units (not code points), drops undefined members, adds no whitespace', () => {
    // U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FB01 although its code point is larger.
    expect(canonicalJson({ '\ufb01': 1, '😀': 2, b: [true, null, 'x'], a: { d: undefined, c: -0.5 } })).toBe(
      '{"a":{"c":-0.5},"b":[true,null,"x"],"😀":2,"\ufb01":1}',
    );
    expect(canonicalJson({ '10': 1, '9': 2, '': 0 })).toBe('{"":0,"10":1,"9":2}');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson('line\n"q"')).toBe('"line\\n\\"q\\""');
  });

  it('refuses what has no canonical form', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(/non-finite/);
    expect(() => canonicalJson({ a: Infinity })).toThrow(/non-finite/);
    expect(() => canonicalJson([undefined])).toThrow(/unsupported undefined/);
    expect(() => canonicalJson(() => 1)).toThrow(/unsupported function/);
    expect(() => canonicalJson(10n)).toThrow(/unsupported bigint/);
  });

  it('agrees with the plain reading of the rules on 2000 random values', () => {
    let seed = 20261123;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const v = randomValue(rand, 0);
      expect(canonicalJson(v)).toBe(reference(v));
    }
  });
});
