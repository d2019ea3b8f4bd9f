// time.*: OPA's time builtins (v1/topdown/time.go), on Go's time semantics (go-time.ts).
import { fail, intArg, stringArg, type BuiltinTable } from './builtin.js';
import {
  NAMED_LAYOUTS,
  NS_PER_SECOND,
  checkNsRange,
  civilFromDays,
  dateToNs,
  daysFromCivil,
  formatTime,
  loadZone,
  parseTime,
  weekdayName,
  zonedTime,
  type ZonedTime,
} from './go-time.js';

/** tzTime: a number of nanoseconds, or [ns, zone] or [ns, zone, layout]. */
function timeArg(value: unknown): { time: ZonedTime; layout: string } {
  let ns: unknown = value;
  let zoneName = '';
  let layout = '';
  if (Array.isArray(value)) {
    if (value.length === 0) fail('operand 1 must be either number (ns) or [number (ns), string (tz)]');
    ns = value[0];
    if (typeof ns !== 'number') fail('operand 1 must be number');
    if (value.length > 1) zoneName = stringArg(value[1], 1);
    if (value.length > 2) layout = stringArg(value[2], 1);
  } else if (typeof value !== 'number') {
    fail('operand 1 must be either number (ns) or [number (ns), string (tz)]');
  }
  if (!Number.isInteger(ns)) fail('timestamp too big');
  const zone = loadZone(zoneName);
  return { time: zonedTime(BigInt(ns as number), zone), layout };
}

const DURATION_UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n,
  'μs': 1_000n,
  ms: 1_000_000n,
  s: NS_PER_SECOND,
  m: 60n * NS_PER_SECOND,
  h: 3600n * NS_PER_SECOND,
};
const INT64_LIMIT = 1n << 63n;

/** Go's time.ParseDuration. */
export function parseGoDuration(text: string): bigint {
  let s = text;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') fail(`time: invalid duration "${text}"`);
  let total = 0n;
  while (s !== '') {
    const match = /^([0-9]*)(?:\.([0-9]*))?/.exec(s)!;
    const whole = match[1]!;
    const fraction = match[2];
    if (whole === '' && (fraction === undefined || fraction === '')) fail(`time: invalid duration "${text}"`);
    s = s.slice(match[0].length);
    const unitMatch = /^[^0-9.]+/.exec(s);
    if (unitMatch === null) fail(`time: missing unit in duration "${text}"`);
    const unit = DURATION_UNITS[unitMatch[0]];
    if (unit === undefined) fail(`time: unknown unit "${unitMatch[0]}" in duration "${text}"`);
    s = s.slice(unitMatch[0].length);
    let v = whole === '' ? 0n : BigInt(whole);
    if (v > INT64_LIMIT / unit) fail(`time: invalid duration "${text}"`);
    v *= unit;
    if (fraction !== undefined && fraction !== '') {
      // Go accumulates the fraction as an integer f over a power-of-ten scale and adds f * (unit / scale) as a float.
      let f = 0n;
      let scale = 1;
      let overflow = false;
      for (const digit of fraction) {
        if (overflow) continue;
        if (f > (INT64_LIMIT - 1n) / 10n) {
          overflow = true;
          continue;
        }
        f = f * 10n + BigInt(digit);
        scale *= 10;
      }
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > INT64_LIMIT) fail(`time: invalid duration "${text}"`);
    }
    total += v;
    if (total > INT64_LIMIT) fail(`time: invalid duration "${text}"`);
  }
  if (negative) return -total;
  if (total > INT64_LIMIT - 1n) fail(`time: invalid duration "${text}"`);
  return total;
}

const EXTENDED_HOURS: Readonly<Record<string, number>> = { d: 24, w: 7 * 24, y: 365 * 24 };

/** parseExtendedDuration: Go durations plus d, w and y (24 h, 7 d, 365 d). */
function parseExtendedDuration(text: string): bigint {
  if (text === '') fail('time: invalid duration ""');
  if (!/[dwy]/.test(text)) return parseGoDuration(text);
  const match = /^([+-]?)((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h|d|w|y))+$/.exec(text);
  if (match === null) fail(`time: invalid duration "${text}"`);
  const sign = match[1]!;
  const segments = text.slice(sign.length).match(/(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h|d|w|y)/g)!;
  const rewritten = segments
    .map((segment) => {
      const unit = /[a-zµμ]+$/.exec(segment)![0];
      const hours = EXTENDED_HOURS[unit];
      if (hours === undefined) return segment;
      return `${formatFloat(Number(segment.slice(0, -unit.length)) * hours)}h`;
    })
    .join('');
  return parseGoDuration(sign + rewritten);
}

/** strconv.FormatFloat(x, 'f', -1, 64). */
function formatFloat(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return BigInt(value).toString();
  const text = String(value);
  if (!/e/.test(text)) return text;
  return value.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
}

export const timeBuiltins: BuiltinTable = {
  'time.now_ns': (evaluation) => evaluation.nowNs,
  'time.parse_rfc3339_ns': (_evaluation, value) => checkNsRange(parseTime(NAMED_LAYOUTS.RFC3339!, stringArg(value, 1))),
  'time.parse_ns': (_evaluation, layout, value) => {
    const format = stringArg(layout, 1);
    const text = stringArg(value, 2);
    return checkNsRange(parseTime(NAMED_LAYOUTS[format] ?? format, text));
  },
  'time.parse_duration_ns': (_evaluation, value) => parseExtendedDuration(stringArg(value, 1)),
  'time.format': (_evaluation, value) => {
    const { time, layout } = timeArg(value);
    const chosen = layout === '' ? NAMED_LAYOUTS.RFC3339Nano! : (NAMED_LAYOUTS[layout] ?? layout);
    return formatTime(time, chosen);
  },
  'time.date': (_evaluation, value) => {
    const { time } = timeArg(value);
    return [time.year, time.month, time.day];
  },
  'time.clock': (_evaluation, value) => {
    const { time } = timeArg(value);
    return [time.hour, time.minute, time.second];
  },
  'time.weekday': (_evaluation, value) => weekdayName(timeArg(value).time.weekday),
  'time.add_date': (_evaluation, value, years, months, days) => {
    const { time } = timeArg(value);
    const y = intArg(years, 2);
    const m = intArg(months, 3);
    const d = intArg(days, 4);
    return checkNsRange(
      dateToNs(time.year + y, time.month + m, time.day + d, time.hour, time.minute, time.second, time.nanosecond, time.zone),
    );
  },
  'time.diff': (_evaluation, first, second) => {
    const a = timeArg(first).time;
    const b0 = timeArg(second).time;
    // Both are read in the first one's zone.
    const bNs = BigInt(b0.unixSeconds) * NS_PER_SECOND + BigInt(b0.nanosecond);
    const aNs = BigInt(a.unixSeconds) * NS_PER_SECOND + BigInt(a.nanosecond);
    let t1 = a;
    let t2 = zonedTime(bNs, a.zone);
    if (aNs > bNs) [t1, t2] = [t2, t1];
    let year = t2.year - t1.year;
    let month = t2.month - t1.month;
    let day = t2.day - t1.day;
    let hour = t2.hour - t1.hour;
    let minute = t2.minute - t1.minute;
    let sec = t2.second - t1.second;
    if (sec < 0) {
      sec += 60;
      minute--;
    }
    if (minute < 0) {
      minute += 60;
      hour--;
    }
    if (hour < 0) {
      hour += 24;
      day--;
    }
    if (day < 0) {
      // Go: time.Date(y1, M1, 32, ...).Day() — the days of t1's month, by normalising day 32.
      const normalised = civilFromDays(daysFromCivil(t1.year, t1.month, 32));
      day += 32 - normalised.day;
      month--;
    }
    if (month < 0) {
      month += 12;
      year--;
    }
    return [year, month, day, hour, minute, sec];
  },
};
