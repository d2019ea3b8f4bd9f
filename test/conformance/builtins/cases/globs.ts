// Differential cases of regex.globs_match: the dialect's syntax and errors, the Go search's quirks, and a
// deterministic sample of random pattern pairs (which would catch a search that differs from Go's anywhere).
import type { Cases } from '../differential.js';

const match = (a: string, b: string): string => `regex.globs_match(${JSON.stringify(a)}, ${JSON.stringify(b)})`;

const WRITTEN: Cases = {
  same: match('abc', 'abc'),
  different: match('abc', 'abd'),
  dot: match('a.c', 'abc'),
  dot_star: match('a.*', 'abcdef'),
  dot_plus_empty: match('a.+', 'a'),
  star_empty: match('ab*c', 'ac'),
  plus_one: match('ab+c', 'abbbc'),
  plus_needs_one: match('ab+c', 'ac'),
  star_star: match('a*b*', 'b*a*'),
  sets: match('[a-c]+', '[c-e]+'),
  sets_disjoint: match('[a-c]', '[d-f]'),
  set_vs_char: match('x[0-9]y', 'x5y'),
  set_vs_char_no: match('x[0-9]y', 'xay'),
  set_escaped_close: match('[\\]]', ']'),
  set_escaped_dash: match('[a\\-z]', '-'),
  set_dot_literal: match('[.]', 'x'),
  empty_set_vs_dot: match('[]', '.'),
  empty_set_vs_char: match('[]', 'a'),
  escaped_dot: match('a\\.c', 'abc'),
  escaped_star: match('a\\*', 'a*'),
  escaped_star_vs_a: match('a\\*', 'aa'),
  unicode: match('é+', 'éé'),
  unicode_range: match('[α-ω]', 'λ'),
  astral: match('😀.', '😀x'),
  empty_both: match('', ''),
  empty_vs_star: match('', 'a*'),
  empty_vs_char: match('', 'a'),
  question_literal: match('a?', 'ab'),
  parens_literal: match('(a|b)', '(a|b)'),
  merged_stars: match('a*a*a*', 'aaaa'),
  merged_plus: match('a*a+', ''),
  prefix_kept: match('ab*', 'abbbb'),
  suffix: match('.*\\.example\\.com', 'api.example.com'),
  suffix_no: match('.*\\.example\\.com', 'api.example.org'),
  both_wild: match('.*x.*', '.*y.*'),
  plus_vs_plus: match('a+', 'a+b'),
  star_then_literal: match('a*b', 'aab'),
  star_greedy_quirk: match('a*ab', 'aab'),
  dot_star_mid: match('x.*y.*z', 'xaybz'),
  long_literal: match('a'.repeat(2000), 'a'.repeat(2000)),
  // 400 `*` tokens searched one inside the other: past meshwarden's depth budget (undefined; Go answers true).
  deep_nesting: 'regex.globs_match(concat("", ["a*b*" | some i in numbers.range(1, 400)]), concat("", ["ab" | some i in numbers.range(1, 400)]))',
  // Errors: each makes the call undefined.
  bad_close: match('a]', 'a'),
  bad_open: match('[abc', 'a'),
  bad_open_rhs: match('a', '[abc'),
  bad_leading_star: match('*a', 'a'),
  bad_double_star: match('a**', 'a'),
  bad_star_plus: match('a*+', 'a'),
  bad_trailing_backslash: match('a\\', 'a'),
  bad_trailing_backslash_after_flag: match('a*\\', 'a'),
  bad_range_start: match('[-a]', 'a'),
  bad_range_end: match('[a-]', 'a'),
  bad_range_special: match('[a-]]', 'a'),
  bad_range_order: match('[z-a]', 'a'),
  bad_range_chain: match('[a-c-e]', 'a'),
  bad_range_last_rune: match('x[a-b', 'x'),
  bad_not_string: 'regex.globs_match(input.number, "a")',
  bad_not_string_rhs: 'regex.globs_match("a", input.number)',
};

// A small linear congruential generator: the same pairs on every run, so Go and meshwarden see the same calls.
function* pseudoRandom(seed: number): Generator<number> {
  let state = seed;
  for (;;) {
    state = (state * 1103515245 + 12345) % 2147483648;
    yield state;
  }
}

const ATOMS = ['a', 'b', '.', '[ab]', '[b-d]', 'c', '\\.'];
// Fewer, overlapping atoms: more pairs that do intersect, so the search goes deeper.
const CLOSE_ATOMS = ['a', '.', '[ab]', 'b'];
const FLAGS = ['', '', '*', '+'];

function randomPattern(random: Generator<number>, atoms: readonly string[]): string {
  const length = random.next().value! % 6;
  let pattern = '';
  for (let i = 0; i < length; i++) {
    pattern += atoms[random.next().value! % atoms.length]! + FLAGS[random.next().value! % FLAGS.length]!;
  }
  return pattern;
}

function randomCases(prefix: string, count: number, seed: number, atoms: readonly string[]): Cases {
  const random = pseudoRandom(seed);
  const cases: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const a = randomPattern(random, atoms);
    const b = randomPattern(random, atoms);
    cases[`${prefix}_${i}`] = match(a, b);
  }
  return cases;
}

export const globsCases: Cases = { ...WRITTEN, ...randomCases('random', 200, 11, ATOMS), ...randomCases('close', 200, 7, CLOSE_ATOMS) };
