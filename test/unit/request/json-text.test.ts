// src/request/json-text.ts: a JSON body's nesting limit (Go's encoding/json: 10,000) and its lone surrogate
// escapes (Go reads them as U+FFFD), on the text, by linear scans.
import { describe, expect, it } from 'vitest';
import { exceedsJsonDepth, MAX_JSON_DEPTH, replaceLoneSurrogateEscapes } from '../../../src/request/json-text.js';

const nested = (depth: number, open = '[', close = ']'): string => open.repeat(depth) + close.repeat(depth);

describe('exceedsJsonDepth', () => {
  it("is Go's limit: 10,000 levels are read, 10,001 are not", () => {
    expect(MAX_JSON_DEPTH).toBe(10_000);
    expect(exceedsJsonDepth(nested(10_000))).toBe(false);
    expect(exceedsJsonDepth(nested(10_001))).toBe(true);
    expect(exceedsJsonDepth(`{"a":${'[{"b":'.repeat(5_000)}1${'}]'.repeat(5_000)}}`)).toBe(true);
    expect(exceedsJsonDepth(nested(1_000_000))).toBe(true);
  });

  it('counts brackets outside strings only, escapes honoured', () => {
    expect(exceedsJsonDepth(`["${'['.repeat(20_000)}"]`)).toBe(false);
    expect(exceedsJsonDepth(`["\\"${'['.repeat(20_000)}"]`)).toBe(false);
    expect(exceedsJsonDepth(`["\\\\", ${nested(10_000)}]`)).toBe(true);
    expect(exceedsJsonDepth('[1,[2,[3]],{"a":{}}]', 3)).toBe(false);
    expect(exceedsJsonDepth('[1,[2,[3]],{"a":{}}]', 2)).toBe(true);
  });
});

describe('replaceLoneSurrogateEscapes', () => {
  it.each<[string, string]>([
    ['{"a":"\\udc00"}', '{"a":"\\ufffd"}'],
    ['{"a":"\\ud800"}', '{"a":"\\ufffd"}'],
    ['{"a":"\\ud800x"}', '{"a":"\\ufffdx"}'],
    ['{"a":"\\ud800\\u0041"}', '{"a":"\\ufffd\\u0041"}'],
    ['{"a":"\\ud800\\ud800\\udc00"}', '{"a":"\\ufffd\\ud800\\udc00"}'],
    ['{"a":"\\uDBFF\\uDFFF"}', '{"a":"\\uDBFF\\uDFFF"}'],
    ['{"a":"\\ud83d\\ude00 ok"}', '{"a":"\\ud83d\\ude00 ok"}'],
    ['{"\\udc00":"\\\\udc00"}', '{"\\ufffd":"\\\\udc00"}'],
    ['{"a":"no escapes"}', '{"a":"no escapes"}'],
  ])('%s → %s', (input, expected) => {
    expect(replaceLoneSurrogateEscapes(input)).toBe(expected);
    // The result is still JSON, and reads as Go reads the input.
    expect(() => JSON.parse(replaceLoneSurrogateEscapes(input))).not.toThrow();
  });

  it('returns a text without surrogate escapes itself (no copy)', () => {
    const text = '{"a":"\\u00e9"}';
    expect(replaceLoneSurrogateEscapes(text)).toBe(text);
  });
});
