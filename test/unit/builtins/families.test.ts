// Table-driven cases per family, through the host surface (so failures are undefined, as in a policy).
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHostBuiltins } from '../../../src/builtins/index.js';

const host = createHostBuiltins({ now: () => 1_800_000_000_000_000_000n });
const decoder = new TextDecoder();
function call(name: string, ...args: unknown[]): unknown {
  const result = host.builtins[name]!(...args);
  return result instanceof ArrayBuffer ? JSON.parse(decoder.decode(result)) : result;
}

type Row = [string, unknown[], unknown];
function table(rows: Row[]): void {
  it.each(rows)('%s(%j) → %j', (name, args, expected) => {
    host.beginEvaluation();
    expect(call(name, ...args)).toEqual(expected);
  });
}

describe('time', () => {
  table([
    ['time.parse_rfc3339_ns', ['2024-02-29T00:00:00Z'], 1709164800000000000],
    ['time.parse_rfc3339_ns', ['2023-02-29T00:00:00Z'], undefined],
    ['time.parse_rfc3339_ns', ['2024-01-01T05:30:00+05:30'], 1704067200000000000],
    ['time.parse_rfc3339_ns', ['2300-01-01T00:00:00Z'], undefined],
    ['time.parse_ns', ['2006-01-02', '2024-13-01'], undefined],
    ['time.parse_ns', ['02 Jan 06 15:04 MST', '01 Jan 24 00:00 PST'], 1704067200000000000],
    ['time.parse_duration_ns', ['1h30m'], 5400000000000],
    ['time.parse_duration_ns', ['1d'], 86400000000000],
    ['time.parse_duration_ns', ['1.5x'], undefined],
    ['time.date', [[1704067200000000000, 'America/New_York']], [2023, 12, 31]],
    ['time.clock', [[1719835230000000000, 'Asia/Kathmandu']], [17, 45, 30]],
    ['time.weekday', [0], 'Thursday'],
    ['time.format', [[1704067200000000000, 'Mars/Olympus']], undefined],
    ['time.format', [[1719835230000000000, 'Europe/Paris', 'RFC822Z']], '01 Jul 24 14:00 +0200'],
    ['time.add_date', [1709164800000000000, 1, 0, 0], 1740787200000000000],
    ['time.diff', [1704067200000000000, 1719835230000000000], [0, 6, 0, 12, 0, 30]],
  ]);
});

describe('semver', () => {
  table([
    ['semver.compare', ['1.0.0-alpha', '1.0.0'], -1],
    ['semver.compare', ['v2.0.0', '1.9.9'], 1],
    ['semver.compare', ['1.0', '1.0.0'], undefined],
    ['semver.is_valid', ['1.2.3-rc.1+build'], true],
    // OPA cuts at '-' and only checks a non-empty pre-release, so a bare '-' is valid (as Go OPA says).
    ['semver.is_valid', ['1.2.3-'], true],
    ['semver.is_valid', ['1.2.3-a..b'], false],
    ['semver.is_valid', [1], false],
    // Go OPA 1.19.1 loops forever comparing these (equal numerically, different text); we answer 0.
    ['semver.compare', ['1.0.0-01', '1.0.0-1'], 0],
  ]);
});

describe('units and uuid', () => {
  table([
    ['units.parse_bytes', ['1KiB'], 1024],
    ['units.parse_bytes', ['1.5GB'], 1500000000],
    ['units.parse_bytes', ['1 KB'], undefined],
    ['units.parse_bytes', ['12XB'], undefined],
    ['units.parse', ['100m'], 0.1],
    ['units.parse', ['1Ki'], 1024],
    ['units.parse', ['1Q'], undefined],
    ['uuid.parse', ['not-a-uuid'], undefined],
    ['uuid.parse', ['00000000-0000-4000-8000-000000000000'], { version: 4, variant: 'RFC4122' }],
  ]);
});

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
function hs256(header: unknown, payload: unknown, secret: string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('io.jwt', () => {
  const valid = hs256({ alg: 'HS256' }, { sub: 'a', exp: 1900000000 }, 's');
  const expired = hs256({ alg: 'HS256' }, { sub: 'a', exp: 1700000000 }, 's');
  table([
    ['io.jwt.verify_hs256', [valid, 's'], true],
    ['io.jwt.verify_hs256', [valid, 'wrong'], false],
    ['io.jwt.verify_hs256', ['only.two', 's'], undefined],
    ['io.jwt.decode', [valid], [{ alg: 'HS256' }, { sub: 'a', exp: 1900000000 }, valid.split('.')[2] && Buffer.from(valid.split('.')[2]!, 'base64url').toString('hex')]],
    ['io.jwt.decode', ['!!.!!.!!'], undefined],
    ['io.jwt.decode_verify', [valid, { secret: 's' }], [true, { alg: 'HS256' }, { sub: 'a', exp: 1900000000 }]],
    ['io.jwt.decode_verify', [expired, { secret: 's' }], [false, {}, {}]],
    ['io.jwt.decode_verify', [valid, { secret: 's', time: 1950000000000000000 }], [false, {}, {}]],
    ['io.jwt.decode_verify', [valid, {}], undefined],
    ['io.jwt.verify_rs256', [valid, 'not a key'], undefined],
    ['io.jwt.verify_rs256', [valid, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'], undefined],
  ]);
});

describe('net, regex, sprintf, strings', () => {
  table([
    ['net.cidr_is_valid', ['10.0.0.0/33'], false],
    ['net.cidr_expand', ['10.0.0.0/31'], ['10.0.0.0', '10.0.0.1']],
    ['net.cidr_merge', [['10.0.0.0/25', '10.0.0.128/25']], ['10.0.0.0/24']],
    ['regex.split', ['x*', 'axbxxc'], ['a', 'b', 'c']],
    ['regex.replace', ['abc', '(b)', '$1x'], 'ac'],
    ['regex.find_n', ['a(?=b)', 'ab', -1], undefined],
    ['sprintf', ['%d|%s|%v', [1, 'a', [1, 'b']]], '1|a|[1, "b"]'],
    ['sprintf', ['%d', ['x']], '%!d(string=x)'],
    ['sprintf', ['%s %s', ['one']], 'one %!s(MISSING)'],
    // OPA splits into n + 1 parts and keeps the first n, so the rest is dropped (as Go OPA does).
    ['strings.split_n', ['a,b,c', ',', 2], ['a', 'b']],
    ['strings.count', ['aaaa', 'aa'], 2],
    ['indexof_n', ['abc', ''], undefined],
    ['urlquery.decode_object', ['a=1;b=2'], undefined],
    ['uri.parse', ['http://h:port/'], undefined],
  ]);
});
