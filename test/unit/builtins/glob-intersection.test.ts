// regex.globs_match's bounds: the search is refused (undefined) past its step and depth budgets, never a stack
// overflow, including when called from inside a wasm evaluation. Its answers are tested against Go OPA in
// test/conformance/builtins/cases/globs.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { BuiltinError, createHostBuiltins } from '../../../src/builtins/index.js';
import { MAX_DEPTH, globsIntersect } from '../../../src/builtins/glob-intersection.js';
import { compileRegoToWasm } from '../../helpers/policies.js';

// Every `.*` before a literal makes the search try one more split: Go's search is exponential in them (opa
// eval took 1.6 s for 4 of them against 100 a's, and did not finish in 100 s for 6); here each state is
// computed once (10 of them: about 65,000 steps).
const MANY_STATES: [string, string] = ['.*a'.repeat(10) + '.*x.*', 'a'.repeat(100)];
// 40 against 400 a's needs about 4 million steps: past the budget.
const TOO_MANY_STATES: [string, string] = ['.*a'.repeat(40) + '.*x.*', 'a'.repeat(400)];

describe('regex.globs_match bounds', () => {
  it('answers a search within its step budget and refuses the same search with a smaller one', () => {
    expect(globsIntersect(...MANY_STATES)).toBe(false);
    expect(() => globsIntersect(...MANY_STATES, { maxSteps: 20, maxDepth: MAX_DEPTH })).toThrow(BuiltinError);
    expect(() => globsIntersect(...MANY_STATES, { maxSteps: 20, maxDepth: MAX_DEPTH })).toThrow(/more than 20 steps/);
    expect(() => globsIntersect(...TOO_MANY_STATES)).toThrow(/more than 2000000 steps/);
  });

  it('refuses a search nested deeper than its depth budget, before the stack would overflow', () => {
    expect(() => globsIntersect('a*b*'.repeat(5000), 'ab'.repeat(5000))).toThrow(/nest deeper than 1000/);
    // Shallow enough: answered.
    expect(globsIntersect('a*b*'.repeat(100), 'ab'.repeat(100))).toBe(true);
  });

  it('keeps set ranges as intervals: the whole of Unicode in one set costs nothing', () => {
    expect(globsIntersect('[\u0000-\u{10FFFF}]+', 'é')).toBe(true);
    expect(globsIntersect('[\u0000-\u{10FFFE}]', '\u{10FFFF}')).toBe(false);
  });

  it('from inside a wasm evaluation, a pattern past the depth budget makes the call undefined, and the evaluation goes on', async () => {
    const wasm = compileRegoToWasm('package g\n\ndefault deep := "undefined"\n\ndeep := regex.globs_match(input.a, input.b)\n\nr := {"deep": deep, "after": true}\n', 'g/r');
    const host = createHostBuiltins();
    const policy = await loadPolicy(readFileSync(wasm), undefined, host.builtins);
    host.beginEvaluation();
    expect(policy.evaluate({ a: 'a*b*'.repeat(20_000), b: 'ab'.repeat(20_000) })).toEqual([{ result: { after: true, deep: 'undefined' } }]);
    host.beginEvaluation();
    expect(policy.evaluate({ a: 'a*b*', b: 'aab' })).toEqual([{ result: { after: true, deep: true } }]);
  });
});
