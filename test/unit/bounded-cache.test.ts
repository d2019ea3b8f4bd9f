// src/bounded-cache.ts: bounded in entries and bytes, oversized keys and entries never kept, oldest out first.
import { describe, expect, it } from 'vitest';
import { BoundedCache, memoize, stringBytes, stringEntryBytes } from '../../src/bounded-cache.js';

const bySize = stringEntryBytes;

describe('BoundedCache', () => {
  it('keeps at most maxEntries, evicting the oldest first', () => {
    const cache = new BoundedCache<string>({ maxEntries: 3, maxBytes: 1 << 20, maxKeyLength: 100 }, bySize);
    for (const key of ['a', 'b', 'c', 'd']) cache.set(key, key.toUpperCase());
    expect(cache.size).toBe(3);
    expect([cache.get('a'), cache.get('b'), cache.get('d')]).toEqual([undefined, 'B', 'D']);
  });

  it('keeps at most maxBytes, evicting as many old entries as the new one needs', () => {
    const cache = new BoundedCache<string>({ maxEntries: 1000, maxBytes: 10_000, maxKeyLength: 10_000 }, bySize);
    for (let i = 0; i < 100; i++) cache.set(`key-${i}`, 'x'.repeat(1000));
    expect(cache.bytes).toBeLessThanOrEqual(10_000);
    expect(cache.size).toBe(4); // each entry: 2·5+16 + 2·1000+16 + 64 bytes
    expect(cache.get('key-99')).toBe('x'.repeat(1000));
    expect(cache.get('key-95')).toBeUndefined();
  });

  it('never keeps a key over maxKeyLength, nor an entry bigger than the whole bound', () => {
    const cache = new BoundedCache<string>({ maxEntries: 10, maxBytes: 5_000, maxKeyLength: 64 }, bySize);
    cache.set('k'.repeat(65), 'v');
    cache.set('small', 'v'.repeat(3_000));
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });

  it('never keeps an entry over maxEntryBytes, so one request cannot empty it (a policy result cache: 1/64 of the bytes)', () => {
    const cache = new BoundedCache<string>({ maxEntries: 1000, maxBytes: 64 * 1024, maxEntryBytes: 1024, maxKeyLength: 64 * 1024 }, bySize);
    cache.set('small', 'r');
    cache.set('x'.repeat(1024), 'r');
    expect(cache.get('x'.repeat(1024))).toBeUndefined();
    expect(cache.get('small')).toBe('r');
    expect(cache.bytes).toBe(bySize('small', 'r') + 64);
  });

  it('replacing a key counts its bytes once; clear empties it', () => {
    const cache = new BoundedCache<string>({ maxEntries: 10, maxBytes: 1 << 20, maxKeyLength: 64 }, bySize);
    cache.set('k', 'one');
    const once = cache.bytes;
    cache.set('k', 'two');
    expect([cache.size, cache.bytes, cache.get('k')]).toEqual([1, once, 'two']);
    cache.clear();
    expect([cache.size, cache.bytes]).toEqual([0, 0]);
  });
});

describe('memoize', () => {
  it('computes a kept key once, an oversized key every time', () => {
    let calls = 0;
    const cache = new BoundedCache<number>({ maxEntries: 10, maxBytes: 1 << 20, maxKeyLength: 8 }, (key) => stringBytes(key));
    const length = memoize(cache, (key) => {
      calls++;
      return key.length;
    });
    expect([length('short'), length('short'), calls]).toEqual([5, 5, 1]);
    expect([length('much too long'), length('much too long'), calls]).toEqual([13, 13, 3]);
  });
});
