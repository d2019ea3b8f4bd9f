// numbers.range_step and rand.intn (OPA's numbers.go).
import { randomInt } from 'node:crypto';
import { fail, intArg, stringArg, type BuiltinTable } from './builtin.js';

export const numbersBuiltins: BuiltinTable = {
  'numbers.range_step': (_evaluation, from, to, by) => {
    const x = intArg(from, 1);
    const y = intArg(to, 2);
    const step = intArg(by, 3);
    if (step <= 0) fail('numbers.range_step: step must be a positive integer');
    const out: number[] = [];
    if (x <= y) for (let i = x; i <= y; i += step) out.push(i);
    else for (let i = x; i >= y; i -= step) out.push(i);
    return out;
  },
  // One value per (string, |n|) for the whole evaluation, as OPA caches it.
  'rand.intn': (evaluation, key, bound) => {
    const name = stringArg(key, 1);
    let n = intArg(bound, 2);
    if (n === 0) return 0;
    if (n < 0) n = -n;
    const cacheKey = `rand.intn\u0000${name}-${n}`;
    const cached = evaluation.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const value = n <= 2 ** 48 - 1 ? randomInt(n) : Math.floor(Math.random() * n);
    evaluation.cache.set(cacheKey, value);
    return value;
  },
};
