// sprintf: Go's fmt.Sprintf over the arguments OPA builds (int64, float64, *big.Int, string, else Rego text).
import { arrayArg, isObject, stringArg, type BuiltinTable } from './builtin.js';

type Argument = { type: 'int64'; value: bigint } | { type: '*big.Int'; value: bigint } | { type: 'float64'; value: number } | { type: 'string'; value: string };

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/**
 * OPA's conversion: an integral number is an int64 (or a *big.Int beyond), a number with a fraction a float64,
 * a string itself, anything else its Rego text. opa-wasm hands us JSON, so a number written 2.0 in Rego is the
 * integer 2 here, and an integer beyond 2^53 arrives rounded (see KNOWN_BUILTIN_DIFFERENCES).
 */
function toArgument(value: unknown): Argument {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      const big = BigInt(value);
      return big < INT64_MIN || big > INT64_MAX ? { type: '*big.Int', value: big } : { type: 'int64', value: big };
    }
    return { type: 'float64', value };
  }
  if (typeof value === 'string') return { type: 'string', value };
  return { type: 'string', value: regoText(value) };
}

/** ast.Value.String(): Rego's text for a value (sets reach us as arrays and print as arrays). */
export function regoText(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(regoText).join(', ')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${goQuote(key)}: ${regoText(value[key])}`).join(', ')}}`;
  }
  return String(value);
}

/** strconv.Quote for printable text; control characters as Go writes them. */
function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\t') out += '\\t';
    else if (char === '\r') out += '\\r';
    else if (char === '\x07') out += '\\a';
    else if (char === '\b') out += '\\b';
    else if (char === '\f') out += '\\f';
    else if (char === '\v') out += '\\v';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += char;
  }
  return `${out}"`;
}

interface Spec {
  minus: boolean;
  plus: boolean;
  space: boolean;
  zero: boolean;
  sharp: boolean;
  width: number | undefined;
  precision: number | undefined;
}

function pad(text: string, spec: Spec, numeric: boolean): string {
  if (spec.width === undefined || text.length >= spec.width) return text;
  const fill = spec.width - [...text].length;
  if (fill <= 0) return text;
  if (spec.minus) return text + ' '.repeat(fill);
  if (spec.zero && numeric) {
    const sign = /^[+\- ]/.test(text) ? text[0]! : '';
    return sign + '0'.repeat(fill) + text.slice(sign.length);
  }
  return ' '.repeat(fill) + text;
}

function withSign(text: string, negative: boolean, spec: Spec): string {
  if (negative) return `-${text}`;
  if (spec.plus) return `+${text}`;
  if (spec.space) return ` ${text}`;
  return text;
}

/** Go's exponent form: at least two exponent digits ("1e+06"). */
function goExponent(text: string): string {
  return text.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** strconv.FormatFloat(f, 'g', prec): %e when the exponent is < -4 or >= the precision (6 when shortest). */
function formatG(value: number, precision: number | undefined, sharp: boolean): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf';
  const shortest = precision === undefined;
  const exponential = shortest ? value.toExponential() : value.toExponential(Math.max(precision === 0 ? 0 : precision - 1, 0));
  const [mantissa, exponentText] = exponential.split('e') as [string, string];
  const exponent = Number(exponentText);
  const digits = mantissa.replace('-', '').replace('.', '').length;
  // strconv: the shortest form decides with precision 6; an explicit precision larger than the digits shrinks to them.
  let eprec = shortest ? 6 : Math.max(precision === 0 ? 1 : precision, 1);
  if (!shortest && eprec > digits && digits >= exponent + 1) eprec = digits;
  let out: string;
  if (exponent < -4 || exponent >= eprec) {
    out = goExponent(exponential);
    if (!sharp && !shortest) out = out.replace(/\.?0+e/, 'e');
  } else {
    out = shortest ? String(value) : value.toFixed(Math.max(eprec - 1 - exponent, 0));
    if (!sharp && !shortest && out.includes('.')) out = out.replace(/\.?0+$/, '');
  }
  return out;
}

function badVerb(verb: string, argument: Argument): string {
  return `%!${verb}(${argument.type}=${plainValue(argument)})`;
}

function plainValue(argument: Argument): string {
  switch (argument.type) {
    case 'float64':
      return formatG(argument.value, undefined, false);
    case 'string':
      return argument.value;
    default:
      return argument.value.toString();
  }
}

function formatInteger(value: bigint, verb: string, spec: Spec): string | undefined {
  const negative = value < 0n;
  const magnitude = negative ? -value : value;
  let digits: string;
  switch (verb) {
    case 'd':
    case 'v':
      digits = magnitude.toString(10);
      break;
    case 'b':
      digits = magnitude.toString(2);
      break;
    case 'o':
      digits = magnitude.toString(8);
      if (spec.sharp && digits !== '0') digits = `0${digits}`;
      break;
    case 'O':
      digits = `0o${magnitude.toString(8)}`;
      break;
    case 'x':
      digits = magnitude.toString(16);
      if (spec.sharp) digits = `0x${digits}`;
      break;
    case 'X':
      digits = magnitude.toString(16).toUpperCase();
      if (spec.sharp) digits = `0X${digits}`;
      break;
    case 'c':
      return String.fromCodePoint(Number(value));
    case 'q':
      return `'${String.fromCodePoint(Number(value))}'`;
    case 'U':
      return `U+${magnitude.toString(16).toUpperCase().padStart(4, '0')}`;
    default:
      return undefined;
  }
  if (spec.precision !== undefined) digits = digits.padStart(spec.precision, '0');
  return withSign(digits, negative, spec);
}

function formatFloat(value: number, verb: string, spec: Spec): string | undefined {
  const negative = value < 0 || Object.is(value, -0);
  const magnitude = Math.abs(value);
  let text: string;
  switch (verb) {
    case 'v':
    case 'g':
      text = formatG(magnitude, spec.precision, spec.sharp);
      break;
    case 'G':
      text = formatG(magnitude, spec.precision, spec.sharp).toUpperCase();
      break;
    case 'e':
      text = goExponent(magnitude.toExponential(spec.precision ?? 6));
      break;
    case 'E':
      text = goExponent(magnitude.toExponential(spec.precision ?? 6)).toUpperCase();
      break;
    case 'f':
    case 'F':
      text = magnitude.toFixed(spec.precision ?? 6);
      break;
    default:
      return undefined;
  }
  return withSign(text, negative, spec);
}

function formatString(value: string, verb: string, spec: Spec): string | undefined {
  const cut = spec.precision === undefined ? value : [...value].slice(0, spec.precision).join('');
  switch (verb) {
    case 's':
    case 'v':
      return cut;
    case 'q':
      return goQuote(cut);
    case 'x':
      return Buffer.from(cut).toString('hex');
    case 'X':
      return Buffer.from(cut).toString('hex').toUpperCase();
    default:
      return undefined;
  }
}

function formatOne(argument: Argument, verb: string, spec: Spec): string {
  if (verb === 'T') return pad(argument.type, spec, false);
  let text: string | undefined;
  let numeric = true;
  switch (argument.type) {
    case 'int64':
    case '*big.Int':
      text = formatInteger(argument.value, verb, spec);
      break;
    case 'float64':
      text = formatFloat(argument.value, verb, spec);
      break;
    default:
      numeric = false;
      text = formatString(argument.value, verb, spec);
  }
  if (text === undefined) return badVerb(verb, argument);
  return pad(text, spec, numeric);
}

/** fmt.Sprintf. */
export function goSprintf(format: string, values: unknown[]): string {
  const args = values.map(toArgument);
  let next = 0;
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    i++;
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const spec: Spec = { minus: false, plus: false, space: false, zero: false, sharp: false, width: undefined, precision: undefined };
    for (; i < format.length && '-+ 0#'.includes(format[i]!); i++) {
      const flag = format[i]!;
      if (flag === '-') spec.minus = true;
      else if (flag === '+') spec.plus = true;
      else if (flag === ' ') spec.space = true;
      else if (flag === '0') spec.zero = !spec.minus;
      else spec.sharp = true;
    }
    const number = (): number | undefined => {
      if (format[i] === '*') {
        i++;
        const argument = args[next++];
        if (argument?.type === 'int64') return Number(argument.value);
        return undefined;
      }
      const match = /^\d+/.exec(format.slice(i));
      if (match === null) return undefined;
      i += match[0].length;
      return Number(match[0]);
    };
    spec.width = number();
    if (spec.width !== undefined && spec.width < 0) {
      spec.minus = true;
      spec.width = -spec.width;
    }
    if (format[i] === '.') {
      i++;
      spec.precision = number() ?? 0;
    }
    const verb = format[i];
    if (verb === undefined) {
      out += '%!(NOVERB)';
      break;
    }
    if (verb === '%') {
      out += '%';
      continue;
    }
    const argument = args[next++];
    if (argument === undefined) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(argument, verb, spec);
  }
  if (next < args.length) {
    out += `%!(EXTRA ${args
      .slice(next)
      .map((argument) => `${argument.type}=${plainValue(argument)}`)
      .join(', ')})`;
  }
  return out;
}

export const sprintfBuiltins: BuiltinTable = {
  sprintf: (_evaluation, format, values) => goSprintf(stringArg(format, 1), arrayArg(values, 2)),
};
