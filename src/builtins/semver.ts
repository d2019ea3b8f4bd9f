// semver.*: OPA's own SemVer grammar (internal/semver), ordered by the `semver` library.
import semver from 'semver';
import { fail, stringArg, type BuiltinTable } from './builtin.js';

const IDENTIFIERS = /^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/;
const INT64 = /^[+-]?[0-9]+$/;
const INT64_MAX = (1n << 63n) - 1n;

/**
 * OPA accepts more than SemVer 2.0.0 (and so more than the `semver` library): a leading "v", leading zeros and
 * a "+" sign in the numbers. It is parsed here as OPA parses it, then normalised into a version the library
 * orders: the numbers without leading zeros, the pre-release kept (loose mode allows its leading zeros).
 */
export function parseOpaSemver(text: string): string | undefined {
  let version = text.startsWith('v') ? text.slice(1) : text;
  let metadata = '';
  let preRelease = '';
  const plus = version.indexOf('+');
  if (plus >= 0) [version, metadata] = [version.slice(0, plus), version.slice(plus + 1)];
  if (metadata !== '' && !IDENTIFIERS.test(metadata)) return undefined;
  const dash = version.indexOf('-');
  if (dash >= 0) [version, preRelease] = [version.slice(0, dash), version.slice(dash + 1)];
  if (preRelease !== '' && !IDENTIFIERS.test(preRelease)) return undefined;
  const parts = version.split('.');
  if (parts.length !== 3) return undefined;
  const numbers: bigint[] = [];
  for (const part of parts) {
    if (!INT64.test(part)) return undefined;
    const n = BigInt(part);
    if (n > INT64_MAX || n < -INT64_MAX - 1n) return undefined;
    numbers.push(n);
  }
  if (numbers.some((n) => n < 0n)) return undefined; // cannot be written as a version the library orders
  return `${numbers.join('.')}${preRelease === '' ? '' : `-${preRelease}`}`;
}

const LOOSE = { loose: true } as const;

export const semverBuiltins: BuiltinTable = {
  'semver.is_valid': (_evaluation, value) => typeof value === 'string' && parseOpaSemver(value) !== undefined,
  'semver.compare': (_evaluation, first, second) => {
    const a = parseOpaSemver(stringArg(first, 1));
    if (a === undefined) fail(`operand 1: string ${String(first)} is not a valid SemVer`);
    const b = parseOpaSemver(stringArg(second, 2));
    if (b === undefined) fail(`operand 2: string ${String(second)} is not a valid SemVer`);
    return semver.compare(a, b, LOOSE);
  },
};
