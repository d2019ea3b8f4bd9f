#!/usr/bin/env node
// The cost of the graphql.* builtins against the size of a caller's document: time per 1,000 tokens as the
// document grows, for the shapes a caller might send to make the work superlinear (wide, nested, long
// argument lists, one field repeated for the field-merging rule, comments). Linear work keeps the figure
// flat across sizes. Figures are reported, never asserted; each call's answer is checked.
//
// Usage: npm run build && node test/bench/graphql-bench.mjs   (BENCH_SECONDS per case, default 1)
import { createHostBuiltins } from '../../dist/src/builtins/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const host = createHostBuiltins();
const isValid = host.builtins['graphql.is_valid'];
const parseQuery = host.builtins['graphql.parse_query'];
const SCHEMA = 'type Query { a: A f(x: [Int], y: String): Int version: String } type A { a: A b: Int }';

// Each shape: tokens → [query, tokens it holds, expected is_valid].
const SHAPES = {
  'wide (aliases)': (n) => [`{ ${Array.from({ length: n / 3 }, (_, i) => `a${i}: version`).join(' ')} }`, n, true],
  'nested to the limit, repeated': (n) => {
    const one = `a ${'{ a '.repeat(60)}{ b }${' }'.repeat(60)}`;
    const copies = Math.max(1, Math.round(n / 183));
    return [`{ ${Array.from({ length: copies }, (_, i) => `x${i}: ${one}`).join(' ')} }`, copies * 183, true];
  },
  'one argument list': (n) => [`{ f(x: [${Array.from({ length: n - 8 }, (_, i) => i).join(', ')}]) }`, n, true],
  'one field repeated': (n) => [`{ ${'version '.repeat(n - 2)}}`, n, n < 1000],
  'comments': (n) => [`${'# a comment\n'.repeat(Math.min(n, 9000))}{ version }`, Math.min(n, 9000), true],
};

function measure(call) {
  let calls = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(SECONDS * 1e9));
  let now = start;
  while (now < end || calls < 3) {
    call();
    calls++;
    now = process.hrtime.bigint();
  }
  return Number(now - start) / 1e6 / calls;
}

console.log('| shape | tokens | is_valid ms | µs per 1k tokens | parse_query ms |');
console.log('|---|---|---|---|---|');
for (const [shape, make] of Object.entries(SHAPES)) {
  for (const size of [1_000, 5_000, 19_000]) {
    const [query, tokens, expected] = make(size);
    const answer = isValid(query, SCHEMA);
    if (answer !== expected) throw new Error(`${shape} at ${size}: is_valid gave ${answer}, expected ${expected}`);
    if (parseQuery(query) === undefined) throw new Error(`${shape} at ${size}: parse_query is undefined`);
    const validMs = measure(() => isValid(query, SCHEMA));
    const parseMs = measure(() => parseQuery(query));
    console.log(`| ${shape} | ${tokens} | ${validMs.toFixed(2)} | ${((validMs * 1000) / (tokens / 1000)).toFixed(0)} | ${parseMs.toFixed(2)} |`);
  }
}
