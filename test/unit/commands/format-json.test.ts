// src/commands/format-json.ts: eval's printer indents JSON text as JSON.stringify(value, null, 2) does, but
// keeps the text's own numbers and does not recurse.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatJson } from '../../../src/commands/format-json.js';

describe('formatJson', () => {
  it('matches JSON.stringify(JSON.parse(text), null, 2) on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        expect(formatJson(text)).toBe(JSON.stringify(JSON.parse(text), null, 2));
      }),
      { numRuns: 500 },
    );
  });

  it('re-indents text that has whitespace of its own, empty containers included', () => {
    expect(formatJson(' { "a" : [ ] , "b" :{ } ,"c":[1, "x, y: {z}"] } ')).toBe('{\n  "a": [],\n  "b": {},\n  "c": [\n    1,\n    "x, y: {z}"\n  ]\n}');
    expect(formatJson('"a \\" b"')).toBe('"a \\" b"');
  });

  it('keeps every digit of a big integer, and prints 10,000 levels', () => {
    expect(formatJson('{"size":9007199254740993}')).toBe('{\n  "size": 9007199254740993\n}');
    const deep = '['.repeat(10_000) + '1' + ']'.repeat(10_000);
    expect(JSON.parse(formatJson(deep))).toBeDefined();
  });
});
