// Go's time package as OPA's time.* builtins use it: civil dates, zones (via Intl), Format and Parse layouts.
import { fail } from './builtin.js';
import { BoundedCache } from '../bounded-cache.js';

export const NS_PER_SECOND = 1_000_000_000n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Days since 1970-01-01 of a proleptic Gregorian date; month and day may overflow (Go's Date normalises). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const monthIndex = month - 1;
  const y = year + Math.floor(monthIndex / 12);
  const m = ((monthIndex % 12) + 12) % 12 + 1;
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5);
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468 + (day - 1);
}

export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

export function daysIn(month: number, year: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** A time zone: its UTC offset and abbreviation at an instant. */
export interface Zone {
  offsetAt(unixSeconds: number): number;
  abbreviationAt(unixSeconds: number): string;
}

const UTC: Zone = { offsetAt: () => 0, abbreviationAt: () => 'UTC' };

// The IANA database has about 600 names, but Intl accepts each in any letter case, so the names a request can
// make us keep are bounded here (a zone's two formatters are estimated at 8 KiB).
const zones = new BoundedCache<Zone>({ maxEntries: 1000, maxBytes: 8 * 1024 * 1024, maxKeyLength: 256 }, () => 8 * 1024);

/** time.LoadLocation: "" and "UTC" are UTC, "Local" the process's zone, other names the IANA database. */
export function loadZone(name: string): Zone {
  if (name === '' || name === 'UTC') return UTC;
  const ianaName = name === 'Local' ? new Intl.DateTimeFormat().resolvedOptions().timeZone : name;
  const cached = zones.get(ianaName);
  if (cached !== undefined) return cached;
  let numeric: Intl.DateTimeFormat;
  let named: Intl.DateTimeFormat;
  try {
    numeric = new Intl.DateTimeFormat('en-US', {
      timeZone: ianaName,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    named = new Intl.DateTimeFormat('en-US', { timeZone: ianaName, timeZoneName: 'short' });
  } catch {
    fail(`unknown time zone ${name}`);
  }
  const resolved = numeric.resolvedOptions().timeZone;
  // Intl matches names case-insensitively; Go's zoneinfo files do not.
  if (name !== 'Local' && resolved !== ianaName && resolved.toLowerCase() === ianaName.toLowerCase()) fail(`unknown time zone ${name}`);
  const zone: Zone = {
    offsetAt(unixSeconds: number): number {
      const fields: Record<string, string> = {};
      for (const part of numeric.formatToParts(unixSeconds * 1000)) fields[part.type] = part.value;
      let year = Number(fields.year);
      if (fields.era === 'BC' || fields.era === 'B') year = 1 - year;
      const wall =
        daysFromCivil(year, Number(fields.month), Number(fields.day)) * 86400 +
        Number(fields.hour) * 3600 +
        Number(fields.minute) * 60 +
        Number(fields.second);
      return wall - unixSeconds;
    },
    abbreviationAt(unixSeconds: number): string {
      const part = named.formatToParts(unixSeconds * 1000).find((p) => p.type === 'timeZoneName')?.value ?? '';
      const gmt = /^GMT(?:([+-])(\d{1,2})(?::(\d{2}))?)?$/.exec(part);
      if (gmt === null) return part;
      if (gmt[1] === undefined) return 'UTC';
      // Zones with no abbreviation of their own are named by offset in Go's tzdata: "+03", "-0330".
      return `${gmt[1]}${gmt[2]!.padStart(2, '0')}${gmt[3] !== undefined && gmt[3] !== '00' ? gmt[3] : ''}`;
    },
  };
  zones.set(ianaName, zone);
  return zone;
}

/** An instant in a zone, with the wall-clock fields Go's Time methods give. */
export interface ZonedTime {
  readonly unixSeconds: number;
  readonly nanosecond: number;
  readonly offset: number;
  readonly zone: Zone;
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** 0 = Sunday. */
  readonly weekday: number;
  /** 1-based day of the year. */
  readonly yearDay: number;
}

export function zonedTime(ns: bigint, zone: Zone): ZonedTime {
  let seconds = ns / NS_PER_SECOND;
  let nanosecond = ns % NS_PER_SECOND;
  if (nanosecond < 0n) {
    nanosecond += NS_PER_SECOND;
    seconds -= 1n;
  }
  const unixSeconds = Number(seconds);
  const offset = zone.offsetAt(unixSeconds);
  const wall = unixSeconds + offset;
  const days = Math.floor(wall / 86400);
  const secondOfDay = wall - days * 86400;
  const { year, month, day } = civilFromDays(days);
  return {
    unixSeconds,
    nanosecond: Number(nanosecond),
    offset,
    zone,
    year,
    month,
    day,
    hour: Math.floor(secondOfDay / 3600),
    minute: Math.floor((secondOfDay % 3600) / 60),
    second: secondOfDay % 60,
    weekday: (((days + 4) % 7) + 7) % 7,
    yearDay: days - daysFromCivil(year, 1, 1) + 1,
  };
}

/** time.Date: wall-clock fields (which may overflow) in a zone, to Unix nanoseconds. */
export function dateToNs(year: number, month: number, day: number, hour: number, minute: number, second: number, nanosecond: number, zone: Zone): bigint {
  const wall = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  // Go's lookup: the offset at the wall time read as UTC, corrected once if that falls across a transition.
  const guess = zone.offsetAt(wall);
  const offset = zone.offsetAt(wall - guess);
  return BigInt(wall - offset) * NS_PER_SECOND + BigInt(nanosecond);
}

/** toSafeUnixNano: only instants an int64 of nanoseconds can hold. */
export function checkNsRange(ns: bigint): bigint {
  if (ns < INT64_MIN || ns > INT64_MAX) fail('time outside of valid range');
  return ns;
}

export const NAMED_LAYOUTS: Readonly<Record<string, string>> = {
  ANSIC: 'Mon Jan _2 15:04:05 2006',
  UnixDate: 'Mon Jan _2 15:04:05 MST 2006',
  RubyDate: 'Mon Jan 02 15:04:05 -0700 2006',
  RFC822: '02 Jan 06 15:04 MST',
  RFC822Z: '02 Jan 06 15:04 -0700',
  RFC850: 'Monday, 02-Jan-06 15:04:05 MST',
  RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  RFC1123Z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
};

const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const LONG_MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

export function weekdayName(weekday: number): string {
  return LONG_DAYS[weekday]!;
}

type Std =
  | 'longMonth' | 'month' | 'numMonth' | 'zeroMonth' | 'longWeekDay' | 'weekDay' | 'day' | 'underDay' | 'zeroDay'
  | 'underYearDay' | 'zeroYearDay' | 'hour' | 'hour12' | 'zeroHour12' | 'minute' | 'zeroMinute' | 'second'
  | 'zeroSecond' | 'longYear' | 'year' | 'PM' | 'pm' | 'tz' | 'iso8601TZ' | 'iso8601SecondsTZ' | 'iso8601ShortTZ'
  | 'iso8601ColonTZ' | 'iso8601ColonSecondsTZ' | 'numTZ' | 'numSecondsTz' | 'numShortTZ' | 'numColonTZ'
  | 'numColonSecondsTZ' | 'fracSecond0' | 'fracSecond9';

type Chunk = { literal: string } | { std: Std; text: string; digits?: number; separator?: string };

const PREFIXED: ReadonlyArray<[string, Std]> = [
  ['January', 'longMonth'], ['Jan', 'month'], ['Monday', 'longWeekDay'], ['Mon', 'weekDay'], ['MST', 'tz'],
  ['002', 'zeroYearDay'], ['01', 'zeroMonth'], ['02', 'zeroDay'], ['03', 'zeroHour12'], ['04', 'zeroMinute'],
  ['05', 'zeroSecond'], ['06', 'year'], ['15', 'hour'], ['1', 'numMonth'], ['2006', 'longYear'], ['2', 'day'],
  ['__2', 'underYearDay'], ['_2', 'underDay'], ['3', 'hour12'], ['4', 'minute'], ['5', 'second'], ['PM', 'PM'],
  ['pm', 'pm'], ['-070000', 'numSecondsTz'], ['-07:00:00', 'numColonSecondsTZ'], ['-0700', 'numTZ'],
  ['-07:00', 'numColonTZ'], ['-07', 'numShortTZ'], ['Z07:00:00', 'iso8601ColonSecondsTZ'], ['Z070000', 'iso8601SecondsTZ'],
  ['Z0700', 'iso8601TZ'], ['Z07:00', 'iso8601ColonTZ'], ['Z07', 'iso8601ShortTZ'],
];

/** Splits a layout into literals and std chunks, as Go's nextStdChunk does. */
function chunksOf(layout: string): Chunk[] {
  const chunks: Chunk[] = [];
  let literal = '';
  let i = 0;
  outer: while (i < layout.length) {
    const c = layout[i]!;
    if ((c === '.' || c === ',') && (layout[i + 1] === '0' || layout[i + 1] === '9')) {
      const digit = layout[i + 1]!;
      let j = i + 1;
      while (layout[j] === digit) j++;
      if (!/[0-9]/.test(layout[j] ?? '')) {
        if (literal !== '') chunks.push({ literal });
        literal = '';
        chunks.push({ std: digit === '0' ? 'fracSecond0' : 'fracSecond9', text: layout.slice(i, j), digits: j - i - 1, separator: c });
        i = j;
        continue;
      }
    }
    // "_2006" is a literal "_" and a long year, not an underscored day.
    if (layout.startsWith('_2006', i)) {
      literal += '_';
      i += 1;
      continue;
    }
    for (const [text, std] of PREFIXED) {
      if (layout.startsWith(text, i)) {
        // "Jan" and "Mon" followed by a lower-case letter ("Month") are literal text, as in Go.
        if ((std === 'month' || std === 'weekDay') && /^[a-z]/.test(layout.slice(i + 3))) continue;
        if (literal !== '') chunks.push({ literal });
        literal = '';
        chunks.push({ std, text });
        i += text.length;
        continue outer;
      }
    }
    literal += c;
    i += 1;
  }
  if (literal !== '') chunks.push({ literal });
  return chunks;
}

function pad(value: number, width: number): string {
  const text = String(Math.abs(value)).padStart(width, '0');
  return value < 0 ? `-${text}` : text;
}

function formatOffset(offset: number, std: Std): string {
  const iso = std.startsWith('iso8601');
  if (iso && offset === 0) return 'Z';
  const sign = offset < 0 ? '-' : '+';
  const total = Math.abs(offset);
  const hours = pad(Math.floor(total / 3600), 2);
  const minutes = pad(Math.floor((total % 3600) / 60), 2);
  const seconds = pad(total % 60, 2);
  switch (std) {
    case 'iso8601ShortTZ':
    case 'numShortTZ':
      return `${sign}${hours}`;
    case 'iso8601TZ':
    case 'numTZ':
      return `${sign}${hours}${minutes}`;
    case 'iso8601ColonTZ':
    case 'numColonTZ':
      return `${sign}${hours}:${minutes}`;
    case 'iso8601SecondsTZ':
    case 'numSecondsTz':
      return `${sign}${hours}${minutes}${seconds}`;
    default:
      return `${sign}${hours}:${minutes}:${seconds}`;
  }
}

/** Go's Time.Format. */
export function formatTime(t: ZonedTime, layout: string): string {
  let out = '';
  for (const chunk of chunksOf(layout)) {
    if ('literal' in chunk) {
      out += chunk.literal;
      continue;
    }
    const hour12 = t.hour % 12 === 0 ? 12 : t.hour % 12;
    switch (chunk.std) {
      case 'longYear': out += t.year < 0 ? `-${pad(-t.year, 4)}` : pad(t.year, 4); break;
      case 'year': out += pad(Math.abs(t.year % 100), 2); break;
      case 'month': out += LONG_MONTHS[t.month - 1]!.slice(0, 3); break;
      case 'longMonth': out += LONG_MONTHS[t.month - 1]; break;
      case 'numMonth': out += String(t.month); break;
      case 'zeroMonth': out += pad(t.month, 2); break;
      case 'weekDay': out += LONG_DAYS[t.weekday]!.slice(0, 3); break;
      case 'longWeekDay': out += LONG_DAYS[t.weekday]; break;
      case 'day': out += String(t.day); break;
      case 'underDay': out += t.day < 10 ? ` ${t.day}` : String(t.day); break;
      case 'zeroDay': out += pad(t.day, 2); break;
      case 'underYearDay': out += String(t.yearDay).padStart(3, ' '); break;
      case 'zeroYearDay': out += pad(t.yearDay, 3); break;
      case 'hour': out += pad(t.hour, 2); break;
      case 'hour12': out += String(hour12); break;
      case 'zeroHour12': out += pad(hour12, 2); break;
      case 'minute': out += String(t.minute); break;
      case 'zeroMinute': out += pad(t.minute, 2); break;
      case 'second': out += String(t.second); break;
      case 'zeroSecond': out += pad(t.second, 2); break;
      case 'PM': out += t.hour >= 12 ? 'PM' : 'AM'; break;
      case 'pm': out += t.hour >= 12 ? 'pm' : 'am'; break;
      case 'tz': {
        const name = t.zone.abbreviationAt(t.unixSeconds);
        if (name !== '') {
          out += name;
        } else {
          const minutes = Math.trunc(t.offset / 60);
          out += `${minutes < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(minutes) / 60), 2)}${pad(Math.abs(minutes) % 60, 2)}`;
        }
        break;
      }
      case 'fracSecond0': out += chunk.separator! + String(t.nanosecond).padStart(9, '0').slice(0, chunk.digits); break;
      case 'fracSecond9': {
        const digits = String(t.nanosecond).padStart(9, '0').slice(0, chunk.digits).replace(/0+$/, '');
        if (digits !== '') out += chunk.separator! + digits;
        break;
      }
      default: out += formatOffset(t.offset, chunk.std);
    }
  }
  return out;
}

const isDigit = (s: string, i: number): boolean => i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;

/** Go's getnum: one or two digits (exactly two when fixed). */
function getNumber(s: string, fixed: boolean): [number, string] {
  if (!isDigit(s, 0)) fail('bad number');
  if (!isDigit(s, 1)) {
    if (fixed) fail('bad number');
    return [Number(s[0]), s.slice(1)];
  }
  return [Number(s.slice(0, 2)), s.slice(2)];
}

function getNumber3(s: string, fixed: boolean): [number, string] {
  let n = 0;
  let i = 0;
  for (; i < 3 && isDigit(s, i); i++) n = n * 10 + Number(s[i]);
  if (i === 0 || (fixed && i !== 3)) fail('bad number');
  return [n, s.slice(i)];
}

/** Go's skip: a literal of the layout; a run of spaces matches a run of spaces. */
function skipLiteral(value: string, prefix: string): string {
  while (prefix.length > 0) {
    if (prefix[0] === ' ') {
      if (value.length > 0 && value[0] !== ' ') fail('literal mismatch');
      prefix = prefix.replace(/^ +/, '');
      value = value.replace(/^ +/, '');
      continue;
    }
    if (value.length === 0 || value[0] !== prefix[0]) fail('literal mismatch');
    prefix = prefix.slice(1);
    value = value.slice(1);
  }
  return value;
}

function lookupName(names: readonly string[], value: string): [number, string] {
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (value.length >= name.length && value.slice(0, name.length).toLowerCase() === name.toLowerCase()) {
      return [i, value.slice(name.length)];
    }
  }
  fail('bad name');
}

function parseNanoseconds(value: string, length: number): number {
  if (value[0] !== '.' && value[0] !== ',') fail('bad fraction');
  const digits = value.slice(1, Math.min(length, 10));
  if (!/^[0-9]+$/.test(digits)) fail('bad fraction');
  return Number(digits.padEnd(9, '0'));
}

/** Go's parseTimeZone: the length of a zone abbreviation at the start of value, or 0. */
function timeZoneLength(value: string): number {
  if (value.length < 3) return 0;
  if (value.startsWith('ChST') || value.startsWith('MeST')) return 4;
  if (value.startsWith('GMT')) return 3 + signedOffsetLength(value.slice(3));
  if (value[0] === '+' || value[0] === '-') return signedOffsetLength(value);
  let upper = 0;
  while (upper < 6 && upper < value.length && value[upper]! >= 'A' && value[upper]! <= 'Z') upper++;
  if (upper === 3) return 3;
  if (upper === 4 && (value[3] === 'T' || value.startsWith('WITA'))) return 4;
  if (upper === 5 && value[4] === 'T') return 5;
  return 0;
}

function signedOffsetLength(value: string): number {
  const match = /^[+-](\d+)/.exec(value);
  if (match === null || Number(match[1]) > 12) return 0;
  return match[0].length;
}

/** Go's time.Parse (in UTC, with no local zone names known): Unix nanoseconds. */
export function parseTime(layout: string, input: string): bigint {
  let value = input;
  let year = 0;
  let month = -1;
  let day = -1;
  let yearDay = -1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let nanosecond = 0;
  let pm = false;
  let am = false;
  let offset: number | undefined;

  const chunks = chunksOf(layout);
  for (let index = 0; index < chunks.length; index++) {
    const chunk = chunks[index]!;
    if ('literal' in chunk) {
      value = skipLiteral(value, chunk.literal);
      continue;
    }
    switch (chunk.std) {
      case 'year': {
        if (value.length < 2) fail('bad year');
        const n = Number(value.slice(0, 2));
        if (!/^\d\d/.test(value)) fail('bad year');
        year = n >= 69 ? n + 1900 : n + 2000;
        value = value.slice(2);
        break;
      }
      case 'longYear':
        if (!/^\d{4}/.test(value)) fail('bad year');
        year = Number(value.slice(0, 4));
        value = value.slice(4);
        break;
      case 'month':
        [month, value] = lookupName(LONG_MONTHS.map((m) => m.slice(0, 3)), value);
        month += 1;
        break;
      case 'longMonth':
        [month, value] = lookupName(LONG_MONTHS, value);
        month += 1;
        break;
      case 'numMonth':
      case 'zeroMonth':
        [month, value] = getNumber(value, chunk.std === 'zeroMonth');
        if (month <= 0 || month > 12) fail('month out of range');
        break;
      case 'weekDay':
        [, value] = lookupName(LONG_DAYS.map((d) => d.slice(0, 3)), value);
        break;
      case 'longWeekDay':
        [, value] = lookupName(LONG_DAYS, value);
        break;
      case 'day':
      case 'underDay':
      case 'zeroDay':
        if (chunk.std === 'underDay' && value[0] === ' ') value = value.slice(1);
        [day, value] = getNumber(value, chunk.std === 'zeroDay');
        break;
      case 'underYearDay':
      case 'zeroYearDay':
        for (let i = 0; i < 2 && chunk.std === 'underYearDay' && value[0] === ' '; i++) value = value.slice(1);
        [yearDay, value] = getNumber3(value, chunk.std === 'zeroYearDay');
        if (yearDay < 1 || yearDay > 366) fail('day-of-year out of range');
        break;
      case 'hour':
        [hour, value] = getNumber(value, false);
        if (hour > 23) fail('hour out of range');
        break;
      case 'hour12':
      case 'zeroHour12':
        [hour, value] = getNumber(value, chunk.std === 'zeroHour12');
        if (hour > 12) fail('hour out of range');
        break;
      case 'minute':
      case 'zeroMinute':
        [minute, value] = getNumber(value, chunk.std === 'zeroMinute');
        if (minute > 59) fail('minute out of range');
        break;
      case 'second':
      case 'zeroSecond': {
        [second, value] = getNumber(value, chunk.std === 'zeroSecond');
        if (second > 59) fail('second out of range');
        // A fraction after the seconds is accepted even when the layout has none.
        const next = chunks[index + 1];
        const nextIsFraction = next !== undefined && 'std' in next && (next.std === 'fracSecond0' || next.std === 'fracSecond9');
        if (value.length >= 2 && (value[0] === '.' || value[0] === ',') && isDigit(value, 1) && !nextIsFraction) {
          let n = 2;
          while (isDigit(value, n)) n++;
          nanosecond = parseNanoseconds(value, n);
          value = value.slice(n);
        }
        break;
      }
      case 'PM':
      case 'pm': {
        const text = value.slice(0, 2);
        const [pmText, amText] = chunk.std === 'PM' ? ['PM', 'AM'] : ['pm', 'am'];
        if (text === pmText) pm = true;
        else if (text === amText) am = true;
        else fail('bad am/pm');
        value = value.slice(2);
        break;
      }
      case 'tz': {
        if (value.startsWith('UTC')) {
          offset = 0;
          value = value.slice(3);
          break;
        }
        const length = timeZoneLength(value);
        if (length === 0) fail('bad time zone');

        value = value.slice(length);
        break;
      }
      case 'fracSecond0': {
        const length = 1 + chunk.digits!;
        if (value.length < length) fail('bad fraction');
        nanosecond = parseNanoseconds(value, length);
        value = value.slice(length);
        break;
      }
      case 'fracSecond9': {
        if (value.length < 2 || (value[0] !== '.' && value[0] !== ',') || !isDigit(value, 1)) break;
        let i = 0;
        while (i < 9 && isDigit(value, i + 1)) i++;
        nanosecond = parseNanoseconds(value, 1 + i);
        value = value.slice(1 + i);
        break;
      }
      default: {
        if (chunk.std.startsWith('iso8601') && value[0] === 'Z') {
          value = value.slice(1);
          offset = 0;
          break;
        }
        const shapes: Partial<Record<Std, RegExp>> = {
          iso8601TZ: /^([+-])(\d\d)(\d\d)/, numTZ: /^([+-])(\d\d)(\d\d)/,
          iso8601ShortTZ: /^([+-])(\d\d)/, numShortTZ: /^([+-])(\d\d)/,
          iso8601ColonTZ: /^([+-])(\d\d):(\d\d)/, numColonTZ: /^([+-])(\d\d):(\d\d)/,
          iso8601SecondsTZ: /^([+-])(\d\d)(\d\d)(\d\d)/, numSecondsTz: /^([+-])(\d\d)(\d\d)(\d\d)/,
          iso8601ColonSecondsTZ: /^([+-])(\d\d):(\d\d):(\d\d)/, numColonSecondsTZ: /^([+-])(\d\d):(\d\d):(\d\d)/,
        };
        const match = shapes[chunk.std]!.exec(value);
        if (match === null) fail('bad offset');
        const [h, m, s] = [Number(match[2]), Number(match[3] ?? 0), Number(match[4] ?? 0)];
        if (h > 24 || m > 60 || s > 60) fail('time zone offset out of range');
        offset = (h * 3600 + m * 60 + s) * (match[1] === '-' ? -1 : 1);
        value = value.slice(match[0].length);
      }
    }
  }
  if (value.length > 0) fail('extra text');
  if (pm && hour < 12) hour += 12;
  else if (am && hour === 12) hour = 0;
  if (yearDay >= 0) {
    let d = yearDay;
    let m = 0;
    if (isLeapYear(year)) {
      if (d === 31 + 29) m = 2;
      else if (d > 31 + 29) d--;
    }
    if (m === 0) {
      const cumulative = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
      m = 1 + Math.floor((d - 1) / 31);
      if (d > cumulative[m]!) m++;
      d -= cumulative[m - 1]!;
      if (m === 2 && d === 29 && isLeapYear(year)) d = 29;
    } else {
      d = 29;
    }
    if (month >= 0 && month !== m) fail('day-of-year does not match month');
    month = m;
    if (day >= 0 && day !== d) fail('day-of-year does not match day');
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > daysIn(month, year)) fail('day out of range');
  // A zone abbreviation (Go looks it up in the local zone only, UTC here) leaves the wall time read as UTC:
  // Go gives it a fabricated zone ("GMT+3" at +3h) without moving the instant.
  offset ??= 0;
  const wall = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return BigInt(wall - offset) * NS_PER_SECOND + BigInt(nanosecond);
}
