// The text form of an IP address exactly as Go's net.IP.String writes it: both net.cidr_* and crypto.x509.*
// print addresses, and OPA's results carry Go's spelling, so there is one function for it.

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * Dotted quad for 4 bytes and for IPv4-mapped IPv6; RFC 5952 for other 16-byte addresses (lower-case hex,
 * the longest run of two or more zero groups, the first of equals, written as `::`); `?` and the hex of any
 * other length, as Go does.
 */
export function formatIp(ip: Uint8Array): string {
  if (ip.length === 4) return ip.join('.');
  if (ip.length !== 16) return `?${Buffer.from(ip).toString('hex')}`;
  if (V4_MAPPED_PREFIX.every((byte, i) => ip[i] === byte)) return ip.subarray(12).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip[i]! << 8) | ip[i + 1]!);
  let bestStart = -1;
  let bestLength = 1; // a single zero group is written out, never as ::
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
