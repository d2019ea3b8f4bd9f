// regex.globs_match: whether two "globs" (a small regular-expression dialect) may match a common string, decided
// as github.com/yashtewari/glob-intersection v0.2.0 decides it (OPA's dependency): its tokenizer, its simplifier
// and its greedy intersection, quirks included, so a policy gets Go OPA's answers. Written from reading it.
//
// The dialect: a character (any, or `\` escaping the next), `.` (any character), a set `[abc]`, `[a-z]`, `[\]]`;
// each optionally followed by `*` or `+`. Nothing else: `?`, `|`, `(`, `{` are plain characters.
//
// Cost. The Go search re-explores the same pair of suffixes again and again, exponentially in the number of
// `*`/`+` tokens. Here every search step is a pure function of (which step, which glob leads, the two suffix
// offsets), so each state is computed once (memoized): the work is at most O(n·m·(n+m)) for globs of n and m
// tokens, and set ranges are kept as intervals, never enumerated (Go expands `[\x00-\x{10FFFF}]` to a million
// runes). On top of that a call is refused (undefined, as any builtin error) past MAX_STEPS steps or
// MAX_DEPTH nested steps, so a pattern taken from a request costs at most about MAX_STEPS × a set lookup.
import { fail, stringArg, type BuiltinTable } from './builtin.js';

/** Search steps one call may take (each a state computed or a token compared in a scan). */
export const MAX_STEPS = 2_000_000;
/** Nested search steps (each `*`/`+` token adds up to three levels); deeper searches are refused before the stack would. */
export const MAX_DEPTH = 1_000;

type Flag = 'none' | 'plus' | 'star';

/** A set's runes as sorted, disjoint, non-adjacent closed intervals [from, to]. */
type Intervals = ReadonlyArray<readonly [number, number]>;

type Token =
  | { readonly kind: 'character'; readonly rune: number; flag: Flag }
  | { readonly kind: 'dot'; flag: Flag }
  | { readonly kind: 'set'; readonly intervals: Intervals; flag: Flag };

const KIND_ORDER = { character: 0, dot: 1, set: 2 } as const;

function normalise(ranges: Array<[number, number]>): Intervals {
  ranges.sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [from, to] of ranges) {
    const last = out[out.length - 1];
    if (last !== undefined && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}

function setHas(intervals: Intervals, rune: number): boolean {
  let low = 0;
  let high = intervals.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [from, to] = intervals[middle]!;
    if (rune < from) high = middle - 1;
    else if (rune > to) low = middle + 1;
    else return true;
  }
  return false;
}

function setsOverlap(a: Intervals, b: Intervals): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [aFrom, aTo] = a[i]!;
    const [bFrom, bTo] = b[j]!;
    if (aTo < bFrom) i++;
    else if (bTo < aFrom) j++;
    else return true;
  }
  return false;
}

/** Token.Equal: same kind and same rune(s); the flags are not compared. */
function tokensEqual(a: Token, b: Token): boolean {
  if (a.kind === 'character') return b.kind === 'character' && a.rune === b.rune;
  if (a.kind === 'dot') return b.kind === 'dot';
  if (b.kind !== 'set' || a.intervals.length !== b.intervals.length) return false;
  return a.intervals.every(([from, to], index) => b.intervals[index]![0] === from && b.intervals[index]![1] === to);
}

/** Match: whether two single tokens share a character (a dot matches any set, even an empty one, as in Go). */
function tokensMatch(first: Token, second: Token): boolean {
  const [a, b] = KIND_ORDER[first.kind] <= KIND_ORDER[second.kind] ? [first, second] : [second, first];
  if (a.kind === 'character') {
    if (b.kind === 'character') return a.rune === b.rune;
    if (b.kind === 'dot') return true;
    return setHas(b.intervals, a.rune);
  }
  if (a.kind === 'dot') return true;
  return b.kind === 'set' && setsOverlap(a.intervals, b.intervals);
}

const invalid = (pattern: string, position: number, message: string): never =>
  fail(`input:${pattern}, pos:${position}, ${message}: the input provided is invalid`);

/** Tokenize: the pattern's runes into tokens, refusing what the Go tokenizer refuses. */
function tokenize(pattern: string): Token[] {
  const input = Array.from(pattern, (c) => c.codePointAt(0)!);
  const BACKSLASH = 0x5c;
  // nextRune: the rune at index, `\` escaping the next one; null at the end of the input.
  const nextRune = (index: number): { next: number; rune: number; escaped: boolean } | null => {
    if (index >= input.length) return null;
    if (input[index] === BACKSLASH) {
      if (index === input.length - 1) invalid(pattern, index, 'input ends with a \\ (escape) character');
      return { next: index + 2, rune: input[index + 1]!, escaped: true };
    }
    return { next: index + 1, rune: input[index]!, escaped: false };
  };
  const readSet = (start: number): { next: number; token: Token } => {
    const ranges: Array<[number, number]> = [];
    let prev = 0;
    let prevExists = false;
    let index = start;
    for (let read = nextRune(index); read !== null; read = nextRune(index)) {
      index = read.next;
      if (!read.escaped && read.rune === 0x2d /* - */) {
        if (!prevExists) invalid(pattern, index, "range character '-' must be preceded by a Unicode character");
        if (index >= input.length - 1) invalid(pattern, index, "range character '-' must be followed by a Unicode character");
        const end = nextRune(index)!;
        index = end.next;
        if (!end.escaped && (end.rune === 0x5d || end.rune === 0x2d)) invalid(pattern, index, "range character '-' cannot be followed by a special symbol");
        if (end.rune < prev) invalid(pattern, index, 'range is out of order');
        ranges.push([prev, end.rune]);
        prevExists = false;
      } else if (!read.escaped && read.rune === 0x5d /* ] */) {
        return { next: index, token: { kind: 'set', intervals: normalise(ranges), flag: 'none' } };
      } else {
        ranges.push([read.rune, read.rune]);
        prev = read.rune;
        prevExists = true;
      }
    }
    return invalid(pattern, index, 'found [ without matching ]');
  };
  const tokens: Token[] = [];
  let index = 0;
  for (let read = nextRune(index); read !== null; read = nextRune(index)) {
    index = read.next;
    let token: Token;
    if (read.escaped) token = { kind: 'character', rune: read.rune, flag: 'none' };
    else if (read.rune === 0x2e /* . */) token = { kind: 'dot', flag: 'none' };
    else if (read.rune === 0x5d) return invalid(pattern, index, "set-close ']' with no preceding '['");
    else if (read.rune === 0x5b /* [ */) ({ next: index, token } = readSet(index));
    else if (read.rune === 0x2b || read.rune === 0x2a) return invalid(pattern, index, "flag must be preceded by a non-flag");
    else token = { kind: 'character', rune: read.rune, flag: 'none' };
    const flag = nextRune(index);
    if (flag !== null && !flag.escaped && (flag.rune === 0x2b || flag.rune === 0x2a)) {
      token.flag = flag.rune === 0x2b ? 'plus' : 'star';
      index = flag.next;
    }
    tokens.push(token);
  }
  return tokens;
}

/** Simplify: a run of equal flagged tokens is one (`a*a*` is `a*`; with a `+` among them it is `a+`). */
function simplify(tokens: Token[]): Token[] {
  if (tokens.length === 0) return tokens;
  const simple: Token[] = [tokens[0]!];
  let latest = tokens[0]!;
  for (const token of tokens.slice(1)) {
    if (token.flag !== 'none' && latest.flag !== 'none' && tokensEqual(token, latest)) {
      simple[simple.length - 1]!.flag = token.flag === 'plus' || latest.flag === 'plus' ? 'plus' : 'star';
    } else {
      latest = token;
      simple.push(token);
    }
  }
  return simple;
}

/** trimGlobs: the literal prefix and suffix compared away (keeping one token of the prefix, as Go does). */
function trim(g1: Token[], g2: Token[]): [Token[], Token[]] | null {
  let l = 0;
  for (; l < g1.length && l < g2.length && g1[l]!.flag === 'none' && g2[l]!.flag === 'none'; l++) {
    if (!tokensMatch(g1[l]!, g2[l]!)) return null;
  }
  if (l > 0) l--;
  let r1 = g1.length - 1;
  let r2 = g2.length - 1;
  for (; r1 >= 0 && r1 >= l && r2 >= 0 && r2 >= l && g1[r1]!.flag === 'none' && g2[r2]!.flag === 'none'; r1--, r2--) {
    if (!tokensMatch(g1[r1]!, g2[r2]!)) return null;
  }
  if (r1 < g1.length - 1) {
    r1++;
    r2++;
  }
  return [g1.slice(l, r1 + 1), g2.slice(l, r2 + 1)];
}

const NORMAL = 0;
const PLUS = 1;
const STAR = 2;

/** The intersection search of non_empty.go on two trimmed globs, each state computed once. */
function intersect(globs: readonly [Token[], Token[]], limits: GlobLimits): boolean {
  const width = Math.max(globs[0].length, globs[1].length) + 1;
  const memo = new Map<number, boolean>();
  let steps = 0;
  let depth = 0;
  const step = (): void => {
    if (++steps > limits.maxSteps) fail(`regex.globs_match: the patterns need more than ${limits.maxSteps} steps`);
  };
  // A state: which function, which glob is `x` (0 or 1; `y` is the other), and the offsets into x and y.
  const run = (fn: number, s: number, xi: number, yi: number): boolean => {
    const key = ((fn * 2 + s) * width + xi) * width + yi;
    const known = memo.get(key);
    if (known !== undefined) return known;
    step();
    if (++depth > limits.maxDepth) fail(`regex.globs_match: the patterns nest deeper than ${limits.maxDepth} steps`);
    const result = fn === NORMAL ? normal(s, xi, yi) : fn === PLUS ? plus(s, xi, yi) : star(s, xi, yi);
    depth--;
    memo.set(key, result);
    return result;
  };
  // intersectNormal(x[xi:], y[yi:]).
  const normal = (s: number, xi: number, yi: number): boolean => {
    const x = globs[s]!;
    const y = globs[1 - s]!;
    let i = xi;
    let j = yi;
    for (; i < x.length && j < y.length; i++, j++) {
      step();
      if (x[i]!.flag === 'none' && y[j]!.flag === 'none') {
        if (!tokensMatch(x[i]!, y[j]!)) return false;
      } else if (x[i]!.flag !== 'none') {
        // intersectSpecial: the side whose first token is flagged leads.
        return run(x[i]!.flag === 'plus' ? PLUS : STAR, s, i, j);
      } else {
        return run(y[j]!.flag === 'plus' ? PLUS : STAR, 1 - s, j, i);
      }
    }
    return i === x.length && j === y.length;
  };
  // intersectPlus(plussed = x[xi:], other = y[yi:]).
  const plus = (s: number, xi: number, yi: number): boolean => {
    const x = globs[s]!;
    const y = globs[1 - s]!;
    if (!tokensMatch(x[xi]!, y[yi]!)) return false;
    if (run(STAR, s, xi, yi + 1)) return true;
    return y[yi]!.flag !== 'none' && run(NORMAL, s, xi + 1, yi);
  };
  // intersectStar(starred = x[xi:], other = y[yi:]).
  const star = (s: number, xi: number, yi: number): boolean => {
    const x = globs[s]!;
    const y = globs[1 - s]!;
    const starToken = x[xi]!;
    const nextToken = xi + 1 < x.length ? x[xi + 1]! : undefined;
    for (let i = yi; i < y.length; i++) {
      step();
      const t = y[i]!;
      if (nextToken !== undefined && tokensMatch(t, nextToken)) {
        if (run(NORMAL, s, xi + 1, i)) return true;
        if (!tokensMatch(t, starToken)) return false;
      } else if (!tokensMatch(t, starToken)) {
        return false;
      }
    }
    return nextToken === undefined;
  };
  return run(NORMAL, 0, 0, 0);
}

export interface GlobLimits {
  readonly maxSteps: number;
  readonly maxDepth: number;
}

/** gintersect.NonEmpty, within the limits (a builtin error past them). */
export function globsIntersect(first: string, second: string, limits: GlobLimits = { maxSteps: MAX_STEPS, maxDepth: MAX_DEPTH }): boolean {
  const g1 = simplify(tokenize(first));
  const g2 = simplify(tokenize(second));
  const trimmed = trim(g1, g2);
  if (trimmed === null) return false;
  return intersect(trimmed, limits);
}

export const globIntersectionBuiltins: BuiltinTable = {
  'regex.globs_match': (_evaluation, first, second) => globsIntersect(stringArg(first, 1), stringArg(second, 2)),
};
