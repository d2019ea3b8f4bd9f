// units.parse and units.parse_bytes (OPA's parse_units.go, parse_bytes.go), in exact rational arithmetic.
import { fail, stringArg, type BuiltinTable } from './builtin.js';

/** extractNumAndUnit: the leading number (digits, '.', an exponent of at most 6 digits) and the rest. */
function splitNumberAndUnit(s: string): [string, string] {
  const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
  let first = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (!isDigit(c) && c !== '.' && c !== 'e' && c !== 'E' && c !== '+' && c !== '-') {
      first = i;
      break;
    }
    if (c === 'e' || c === 'E') {
      const next = s[i + 1];
      if (i === s.length - 1 || (!isDigit(next) && next !== '+' && next !== '-')) {
        first = i;
        break;
      }
      if (next === '+' || next === '-') i++;
      let end = i + 1;
      while (isDigit(s[end])) end++;
      if (end - (i + 1) > 6) fail('exponent too large');
    }
  }
  if (first === -1) return [s, ''];
  return [s.slice(0, first), s.slice(first)];
}

/** A decimal (big.Rat's SetString grammar for what extractNumAndUnit lets through) as numerator / 10^scale. */
interface Rational {
  numerator: bigint;
  denominator: bigint;
}

function parseDecimal(text: string): Rational | undefined {
  const match = /^([+-]?)(?:(\d+)\.?(\d*)|\.(\d+))(?:[eE]([+-]?\d+))?$/.exec(text);
  if (match === null) return undefined;
  const digits = (match[2] ?? '') + (match[3] ?? match[4] ?? '');
  const fractionLength = (match[3] ?? match[4] ?? '').length;
  const exponent = Number(match[5] ?? 0) - fractionLength;
  let numerator = BigInt(digits) * (match[1] === '-' ? -1n : 1n);
  let denominator = 1n;
  if (exponent >= 0) numerator *= 10n ** BigInt(exponent);
  else denominator = 10n ** BigInt(-exponent);
  return { numerator, denominator };
}

/** The exact value of a float64 (0.001 for milli is not 1/1000 in Go either: SetFloat64). */
function exactFloat(value: number): Rational {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn) - 1075;
  const mantissa = (bits & ((1n << 52n) - 1n)) | (1n << 52n);
  return exponent >= 0 ? { numerator: mantissa << BigInt(exponent), denominator: 1n } : { numerator: mantissa, denominator: 1n << BigInt(-exponent) };
}

/** big.Rat's FloatString(10): rounded to nearest, halves away from zero. */
function floatString10(r: Rational): number {
  const scale = 10n ** 10n;
  const negative = r.numerator < 0n !== r.denominator < 0n;
  const n = (r.numerator < 0n ? -r.numerator : r.numerator) * scale;
  const d = r.denominator < 0n ? -r.denominator : r.denominator;
  let q = n / d;
  if ((n % d) * 2n >= d) q += 1n;
  const text = `${q / scale}.${(q % scale).toString().padStart(10, '0')}`;
  return Number(negative ? `-${text}` : text);
}

const KIBI = [1n, 1n << 10n, 1n << 20n, 1n << 30n, 1n << 40n, 1n << 50n, 1n << 60n] as const;
const KILO = [1n, 10n ** 3n, 10n ** 6n, 10n ** 9n, 10n ** 12n, 10n ** 15n, 10n ** 18n] as const;

const UNITS: Readonly<Record<string, bigint>> = {
  '': 1n,
  k: KILO[1], K: KILO[1], ki: KIBI[1], Ki: KIBI[1], M: KILO[2], mi: KIBI[2], Mi: KIBI[2], g: KILO[3], G: KILO[3],
  gi: KIBI[3], Gi: KIBI[3], t: KILO[4], T: KILO[4], ti: KIBI[4], Ti: KIBI[4], p: KILO[5], P: KILO[5], pi: KIBI[5],
  Pi: KIBI[5], e: KILO[6], E: KILO[6], ei: KIBI[6], Ei: KIBI[6],
};

const BYTE_UNITS: Readonly<Record<string, bigint>> = {
  '': 1n,
  kb: KILO[1], k: KILO[1], kib: KIBI[1], ki: KIBI[1], mb: KILO[2], m: KILO[2], mib: KIBI[2], mi: KIBI[2],
  gb: KILO[3], g: KILO[3], gib: KIBI[3], gi: KIBI[3], tb: KILO[4], t: KILO[4], tib: KIBI[4], ti: KIBI[4],
  pb: KILO[5], p: KILO[5], pib: KIBI[5], pi: KIBI[5], eb: KILO[6], e: KILO[6], eib: KIBI[6], ei: KIBI[6],
};

export const unitsBuiltins: BuiltinTable = {
  'units.parse': (_evaluation, value) => {
    const s = stringArg(value, 1).replaceAll('"', '');
    if (s.includes(' ')) fail('units.parse: spaces not allowed in resource strings');
    const [number, rawUnit] = splitNumberAndUnit(s);
    if (number === '') fail('units.parse: no amount provided');
    const unit = rawUnit.length > 1 ? rawUnit[0] + rawUnit.slice(1).toLowerCase() : rawUnit;
    const multiplier: Rational | undefined =
      unit === 'm' ? exactFloat(0.001) : UNITS[unit] === undefined ? undefined : { numerator: UNITS[unit]!, denominator: 1n };
    if (multiplier === undefined) fail(`units.parse: unit ${unit} not recognized`);
    const amount = parseDecimal(number);
    if (amount === undefined) fail('units.parse: could not parse amount to a number');
    const product = { numerator: amount.numerator * multiplier.numerator, denominator: amount.denominator * multiplier.denominator };
    if (product.numerator % product.denominator === 0n) return product.numerator / product.denominator;
    return floatString10(product);
  },
  'units.parse_bytes': (_evaluation, value) => {
    const s = stringArg(value, 1).toLowerCase().replaceAll('"', '');
    if (s.includes(' ')) fail('units.parse_bytes: spaces not allowed in resource strings');
    const [number, unit] = splitNumberAndUnit(s);
    if (number === '') fail('units.parse_bytes: no byte amount provided');
    const multiplier = BYTE_UNITS[unit];
    if (multiplier === undefined) fail(`units.parse_bytes: byte unit ${unit} not recognized`);
    const amount = parseDecimal(number);
    if (amount === undefined) fail('units.parse_bytes: could not parse byte amount to a number');
    // big.Float's Int truncates toward zero, as BigInt division does.
    return (amount.numerator * multiplier) / amount.denominator;
  },
};
