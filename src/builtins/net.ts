// net.cidr_*: OPA's cidr.go on Go's net package semantics (ParseIP, ParseCIDR, IP and IPNet String).
import { fail, isObject, stringArg, toSet, type BuiltinTable } from './builtin.js';
import { formatIp } from './ip-text.js';

const V4_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** netip.ParseAddr without zones: IPv4 (no leading zeros) as 4 bytes, IPv6 as 16. */
function parseAddress(text: string): Uint8Array | undefined {
  if (text.includes('.') && !text.includes(':')) return parseV4(text);
  if (!text.includes(':')) return undefined;
  return parseV6(text);
}

function parseV4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^\d{1,3}$/.test(part) || (part.length > 1 && part[0] === '0') || Number(part) > 255) return undefined;
    bytes[i] = Number(part);
  }
  return bytes;
}

function parseV6(text: string): Uint8Array | undefined {
  if (text.includes('%')) return undefined;
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    // An embedded IPv4 tail stands for the last two groups.
    const v4 = parseV4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const group = (part: string): number[] | undefined => {
    if (part === '') return [];
    const fields = part.split(':');
    const out: number[] = [];
    for (const field of fields) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(field)) return undefined;
      out.push(parseInt(field, 16));
    }
    return out;
  };
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  if (head === undefined || rest === undefined) return undefined;
  const known = head.length + rest.length;
  let groups: number[];
  if (halves.length === 2) {
    if (known > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - known).fill(0), ...rest];
  } else {
    if (known !== 8) return undefined;
    groups = head;
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** net.ParseIP: 16 bytes for both families (an IPv4 address as IPv4-mapped). */
export function parseIp(text: string): Uint8Array | undefined {
  const address = parseAddress(text);
  if (address === undefined) return undefined;
  return address.length === 4 ? Uint8Array.from([...V4_PREFIX, ...address]) : address;
}

/** IP.To4. */
function to4(ip: Uint8Array): Uint8Array | undefined {
  if (ip.length === 4) return ip;
  if (ip.length === 16 && V4_PREFIX.every((b, i) => ip[i] === b)) return ip.subarray(12);
  return undefined;
}

interface Network {
  ip: Uint8Array;
  mask: Uint8Array;
}

function cidrMask(ones: number, bits: number): Uint8Array {
  const mask = new Uint8Array(bits / 8);
  for (let i = 0; i < ones; i++) mask[i >> 3]! |= 0x80 >> (i & 7);
  return mask;
}

function maskIp(ip: Uint8Array, mask: Uint8Array): Uint8Array {
  let source = ip;
  if (mask.length === 4 && ip.length === 16 && to4(ip) !== undefined) source = ip.subarray(12);
  if (mask.length === 16 && ip.length === 4) mask = mask.subarray(12);
  return source.map((b, i) => b & mask[i]!);
}

/** net.ParseCIDR: the network, its IP masked (4 bytes for IPv4). */
function parseCidr(text: string): Network {
  const slash = text.indexOf('/');
  if (slash < 0) fail(`invalid CIDR address: ${text}`);
  const address = parseAddress(text.slice(0, slash));
  const prefix = text.slice(slash + 1);
  if (address === undefined || !/^\d+$/.test(prefix)) fail(`invalid CIDR address: ${text}`);
  const bits = address.length * 8;
  const ones = Number(prefix);
  if (ones > bits || prefix.length > 7) fail(`invalid CIDR address: ${text}`);
  const mask = cidrMask(ones, bits);
  return { ip: maskIp(address, mask), mask };
}

function networkNumberAndMask(network: Network): [Uint8Array, Uint8Array] | undefined {
  let ip = to4(network.ip);
  if (ip === undefined) {
    ip = network.ip;
    if (ip.length !== 16) return undefined;
  }
  let mask = network.mask;
  if (mask.length === 4 && ip.length !== 4) return undefined;
  if (mask.length === 16 && ip.length === 4) mask = mask.subarray(12);
  return [ip, mask];
}

function contains(network: Network, address: Uint8Array): boolean {
  const pair = networkNumberAndMask(network);
  if (pair === undefined) return false;
  const [nn, mask] = pair;
  const ip = to4(address) ?? address;
  if (ip.length !== nn.length) return false;
  return nn.every((b, i) => (b & mask[i]!) === (ip[i]! & mask[i]!));
}

function lastIp(network: Network): Uint8Array {
  return network.ip.map((b, i) => b | (~network.mask[i]! & 0xff));
}

function maskLength(mask: Uint8Array): number {
  let ones = 0;
  let done = false;
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      if (byte & (1 << bit)) {
        if (done) return -1;
        ones++;
      } else done = true;
    }
  }
  return ones;
}

function formatNetwork(network: Network): string {
  const pair = networkNumberAndMask(network);
  if (pair === undefined) return '<nil>';
  const length = maskLength(pair[1]);
  return `${formatIp(pair[0])}/${length < 0 ? Buffer.from(pair[1]).toString('hex') : length}`;
}

/** builtinNetCIDRContains: an IP address or a CIDR within the first CIDR. */
function cidrContains(cidr: string, target: string): boolean {
  const network = parseCidr(cidr);
  const ip = parseIp(target);
  if (ip !== undefined) return contains(network, ip);
  let inner: Network;
  try {
    inner = parseCidr(target);
  } catch {
    fail(`not a valid textual representation of an IP address or CIDR: ${target}`);
  }
  return contains(network, inner.ip) && contains(network, lastIp(inner));
}

/** The (cidr, key) pairs of a contains_matches operand: a string, or an array, set or object of strings/[string, …]. */
function matchOperand(value: unknown, isSet: boolean): Array<[string, unknown]> {
  const element = (item: unknown): string => {
    if (typeof item === 'string') return item;
    if (Array.isArray(item) && item.length > 0) return item[0] as string;
    fail('element must be string or non-empty array');
  };
  if (typeof value === 'string') return [[value, value]];
  if (Array.isArray(value)) return value.map((item, index) => [element(item), isSet ? item : index]);
  if (isObject(value)) return Object.entries(value).map(([key, item]) => [element(item), key]);
  return [];
}

const toBigInt = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
const fromBigInt = (value: bigint, length: number): Uint8Array => Uint8Array.from(Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex'));

/** The smallest set of CIDRs covering [first, last] (both 16 bytes; IPv4 as IPv4-mapped). */
function rangeToCidrs(first: Uint8Array, last: Uint8Array): Network[] {
  const v4 = to4(first) !== undefined;
  const bits = v4 ? 32 : 128;
  const offset = v4 ? toBigInt(Uint8Array.from([...V4_PREFIX, 0, 0, 0, 0])) : 0n;
  let start = toBigInt(first) - offset;
  const end = toBigInt(last) - offset;
  const out: Network[] = [];
  while (start <= end) {
    let size = 0;
    while (size < bits && (start & ((1n << BigInt(size + 1)) - 1n)) === 0n && start + (1n << BigInt(size + 1)) - 1n <= end) size++;
    const ip = v4 ? fromBigInt(start, 4) : fromBigInt(start, 16);
    out.push({ ip, mask: cidrMask(bits - size, bits) });
    start += 1n << BigInt(size);
  }
  return out;
}

/** GetAddressRange: first and last address, both 16 bytes. */
function addressRange(network: Network): [Uint8Array, Uint8Array] {
  let first = maskIp(network.ip, network.mask);
  if (to4(first) !== undefined) first = Uint8Array.from([...V4_PREFIX, ...(to4(first) as Uint8Array)]);
  const last = Uint8Array.from(first);
  const mask = network.mask;
  for (let i = 0; i < mask.length; i++) last[15 - i]! |= ~mask[mask.length - 1 - i]! & 0xff;
  return [first, last];
}

/** ip.DefaultMask: the classful mask of an IPv4 address. */
function defaultMask(ip4: Uint8Array): Uint8Array {
  if (ip4[0]! < 0x80) return cidrMask(8, 32);
  if (ip4[0]! < 0xc0) return cidrMask(16, 32);
  return cidrMask(24, 32);
}

function mergeNetworks(networks: Network[]): string[] {
  type Range = { first: Uint8Array; last: Uint8Array; network?: Network };
  const ranges: Range[] = networks.map((network) => {
    const [first, last] = addressRange(network);
    return { first, last, network };
  });
  ranges.sort((a, b) => Buffer.compare(a.last, b.last) || Buffer.compare(a.first, b.first));
  for (let i = ranges.length - 1; i > 0; i--) {
    const current = ranges[i]!;
    const previous = ranges[i - 1]!;
    const v4 = to4(current.first) !== undefined;
    const low = toBigInt(current.first);
    const floor = v4 ? toBigInt(Uint8Array.from([...V4_PREFIX, 0, 0, 0, 0])) : 0n;
    const before = low === floor ? current.first : fromBigInt(low - 1n, 16);
    if (Buffer.compare(before, previous.last) <= 0) {
      const first = Buffer.compare(previous.first, current.first) < 0 ? previous.first : current.first;
      ranges[i - 1] = { first, last: current.last };
      ranges.splice(i, 1);
    }
  }
  const out: string[] = [];
  for (const range of ranges) {
    if (range.network !== undefined) out.push(formatNetwork(range.network));
    else for (const network of rangeToCidrs(range.first, range.last)) out.push(formatNetwork(network));
  }
  return out;
}

export const netBuiltins: BuiltinTable = {
  'net.cidr_is_valid': (_evaluation, value) => {
    if (typeof value !== 'string') return false;
    try {
      parseCidr(value);
      return true;
    } catch {
      return false;
    }
  },
  'net.cidr_expand': (_evaluation, value) => {
    const network = parseCidr(stringArg(value, 1));
    const length = network.ip.length;
    const start = toBigInt(network.ip);
    const end = toBigInt(lastIp(network));
    const out: string[] = [];
    for (let n = start; n <= end; n++) out.push(formatIp(fromBigInt(n, length)));
    return toSet(out);
  },
  'net.cidr_contains_matches': (_evaluation, cidrs, targets) => {
    // Sets and arrays both arrive as arrays; an element's key is its index for an array, itself for a set.
    // Without the Rego type at hand, an array is taken as an array (the common case).
    const out: unknown[] = [];
    for (const [cidr, key1] of matchOperand(cidrs, false)) {
      for (const [target, key2] of matchOperand(targets, false)) {
        if (cidrContains(cidr, target)) out.push([key1, key2]);
      }
    }
    return toSet(out);
  },
  'net.cidr_merge': (_evaluation, value) => {
    if (!Array.isArray(value)) fail('operand must be an array');
    const networks = value.map((item): Network => {
      if (typeof item !== 'string') fail('element must be string');
      const ip = parseIp(item);
      if (ip === undefined) return parseCidr(item);
      const ip4 = to4(ip);
      if (ip4 !== undefined) return { ip, mask: defaultMask(ip4) };
      fail('IPv6 invalid: needs prefix length');
    });
    return toSet(mergeNetworks(networks));
  },
};
