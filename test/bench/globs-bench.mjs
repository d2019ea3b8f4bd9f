#!/usr/bin/env node
// Micro-benchmark of regex.globs_match on the built code: the cost of the patterns Go's search is exponential
// in (`.*a` repeated against a run of `a`s), of long literals, and of the pairs refused at the step and depth
// bounds. Figures are reported, never asserted; what is asserted is each answer (a wrong one measures nothing).
//
// For comparison, opa eval (OPA 1.19.1, opa-envoy-plugin's) took 1.6 s for four `.*a` and `.*x.*` against 100
// `a`s, and did not finish in 100 s for six.
//
// Usage: npm run build && node test/bench/globs-bench.mjs   (BENCH_SECONDS per case, default 1)
import { BuiltinError } from '../../dist/src/builtins/index.js';
import { globsIntersect } from '../../dist/src/builtins/glob-intersection.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);

const CASES = [
  { name: '4 × .*a vs 100 a (Go: 1.6 s)', a: '.*a'.repeat(4) + '.*x.*', b: 'a'.repeat(100), expect: false },
  { name: '10 × .*a vs 100 a', a: '.*a'.repeat(10) + '.*x.*', b: 'a'.repeat(100), expect: false },
  { name: '30 × .*a vs 300 a', a: '.*a'.repeat(30) + '.*x.*', b: 'a'.repeat(300), expect: false },
  { name: '40 × .*a vs 400 a (refused: steps)', a: '.*a'.repeat(40) + '.*x.*', b: 'a'.repeat(400), expect: 'refused' },
  { name: '200 × a*b* vs (ab)×200', a: 'a*b*'.repeat(200), b: 'ab'.repeat(200), expect: true },
  { name: '5000 × a*b* (refused: depth)', a: 'a*b*'.repeat(5000), b: 'ab'.repeat(5000), expect: 'refused' },
  { name: 'literal 100 KiB vs itself', a: 'a'.repeat(100_000), b: 'a'.repeat(100_000), expect: true },
  { name: 'whole-Unicode set', a: '[\u0000-\u{10FFFF}]+', b: 'é', expect: true },
];

function answer(a, b) {
  try {
    return globsIntersect(a, b);
  } catch (error) {
    if (error instanceof BuiltinError) return 'refused';
    throw error;
  }
}

for (const { name, a, b, expect } of CASES) {
  const got = answer(a, b);
  if (got !== expect) throw new Error(`${name}: answered ${got}, expected ${expect}`);
  let calls = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() < end) {
    answer(a, b);
    calls++;
  }
  const perCall = Number(process.hrtime.bigint() - start) / calls / 1e6;
  console.log(`${name.padEnd(40)} ${perCall.toFixed(3).padStart(10)} ms/call  (${calls} calls)`);
}
