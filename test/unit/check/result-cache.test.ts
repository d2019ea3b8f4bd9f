import { describe, expect, it } from 'vitest';
import { ResultCache } from '../../../src/check/result-cache.js';

const bytesOf = (input: string, result: string): number => (input.length + result.length) * 2 + 64;

describe('ResultCache', () => {
  it('returns what was kept, and nothing for an input never seen', () => {
    const cache = new ResultCache({ maxEntries: 10, maxBytes: 1 << 20 });
    cache.set('{"a":1}', '[{"result":true}]');
    expect(cache.get('{"a":1}')).toBe('[{"result":true}]');
    expect(cache.get('{"a":2}')).toBeUndefined();
    expect(cache.size).toBe(1);
    expect(cache.bytes).toBe(bytesOf('{"a":1}', '[{"result":true}]'));
  });

  it('holds at most maxEntries, dropping the oldest first', () => {
    const cache = new ResultCache({ maxEntries: 3, maxBytes: 1 << 20 });
    for (let i = 0; i < 5; i++) cache.set(`in${i}`, `out${i}`);
    expect(cache.size).toBe(3);
    expect([0, 1, 2, 3, 4].map((i) => cache.get(`in${i}`))).toEqual([undefined, undefined, 'out2', 'out3', 'out4']);
  });

  it('holds at most maxBytes, counting keys and results', () => {
    const entry = bytesOf('in0', 'x'.repeat(100));
    const cache = new ResultCache({ maxEntries: 1000, maxBytes: entry * 64 * 3.5 });
    // Each entry within the largest share (1/64 of the bytes): 64 * 3.5 / 64 = 3 of them fit.
    for (let i = 0; i < 10; i++) cache.set(`in${i}`, 'x'.repeat(100));
    expect(cache.size).toBeLessThanOrEqual(224);
    expect(cache.bytes).toBeLessThanOrEqual(entry * 64 * 3.5);
    const small = new ResultCache({ maxEntries: 1000, maxBytes: 64 * entry * 1 });
    for (let i = 0; i < 10; i++) small.set(`in${i}`, 'x'.repeat(100));
    expect(small.bytes).toBeLessThanOrEqual(64 * entry);
  });

  it('keeps no input larger than 1/64 of the byte bound, so one request cannot empty it', () => {
    const cache = new ResultCache({ maxEntries: 1000, maxBytes: 64 * 1024 });
    cache.set('small', 'r');
    cache.set('x'.repeat(1024), 'r');
    expect(cache.get('x'.repeat(1024))).toBeUndefined();
    expect(cache.get('small')).toBe('r');
  });

  it('drops entries until the bytes fit', () => {
    const key = (i: number): string => `k${String(i).padStart(3, '0')}`;
    const entry = bytesOf(key(0), 'v'.repeat(10));
    const cache = new ResultCache({ maxEntries: 100, maxBytes: 64 * entry });
    for (let i = 0; i < 70; i++) cache.set(key(i), 'v'.repeat(10));
    expect(cache.size).toBe(64);
    expect(cache.bytes).toBe(64 * entry);
    expect(cache.get(key(5))).toBeUndefined();
    expect(cache.get(key(6))).toBe('v'.repeat(10));
    expect(cache.get(key(69))).toBe('v'.repeat(10));
  });
});
