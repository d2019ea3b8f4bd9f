import { describe, expect, it } from 'vitest';
import { formatIp } from '../../../src/builtins/ip-text.js';

// Expected strings are what Go's net.IP.String prints for the same bytes (go doc net.IP.String).
describe('formatIp', () => {
  const bytes = (...values: number[]) => Uint8Array.from(values);
  const v6 = (text: string) => {
    // Expand a full 8-group form into bytes, so every case states its input in full.
    const groups = text.split(':').map((group) => parseInt(group, 16));
    return Uint8Array.from(groups.flatMap((group) => [group >> 8, group & 0xff]));
  };

  it('writes IPv4 and IPv4-mapped IPv6 as a dotted quad', () => {
    expect(formatIp(bytes(192, 168, 0, 1))).toBe('192.168.0.1');
    expect(formatIp(v6('0:0:0:0:0:ffff:c0a8:1'))).toBe('192.168.0.1');
  });

  it('shortens the longest run of two or more zero groups, the first of equal runs', () => {
    expect(formatIp(v6('2001:db8:0:0:0:0:0:1'))).toBe('2001:db8::1');
    expect(formatIp(v6('2001:db8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1');
    expect(formatIp(v6('0:0:0:0:0:0:0:0'))).toBe('::');
    expect(formatIp(v6('0:0:0:0:0:0:0:1'))).toBe('::1');
    expect(formatIp(v6('fe80:0:0:0:0:0:0:0'))).toBe('fe80::');
  });

  it('writes a single zero group out and uses lower-case hex without leading zeros', () => {
    expect(formatIp(v6('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIp(v6('2001:DB8:a:B:c:D:e:F'))).toBe('2001:db8:a:b:c:d:e:f');
  });

  it('writes any other length as ? and hex, as Go does', () => {
    expect(formatIp(bytes(1, 2, 3))).toBe('?010203');
  });
});

describe('formatIp, byte strings from certificates', () => {
  it.each([
    ['7f000001', '127.0.0.1'],
    ['00000000000000000000000000000001', '::1'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['00000000000000000000ffff0a000001', '10.0.0.1'],
    ['20010db8000100000001000000010001', '2001:db8:1:0:1:0:1:1'],
    ['20010db8000000010000000000000000', '2001:db8:0:1::'],
    ['00000000000000000000000000000000', '::'],
  ])('%s is %s', (bytes, text) => {
    expect(formatIp(Buffer.from(bytes, 'hex'))).toBe(text);
  });
});
