// uuid.*: random version-4 UUIDs (node:crypto), one per key per evaluation, and OPA's uuid.parse fields.
import { randomUUID } from 'node:crypto';
import { stringArg, type BuiltinTable } from './builtin.js';

/** google/uuid's Parse: 36 characters, "urn:uuid:" + 36, "{" 36 "}", or 32 hex digits. */
function uuidBytes(text: string): Buffer | undefined {
  let s = text;
  if (s.length === 45) {
    if (s.slice(0, 9).toLowerCase() !== 'urn:uuid:') return undefined;
    s = s.slice(9);
  } else if (s.length === 38) {
    if (s[0] !== '{' || s[37] !== '}') return undefined;
    s = s.slice(1, 37);
  } else if (s.length === 32) {
    return /^[0-9a-fA-F]{32}$/.test(s) ? Buffer.from(s, 'hex') : undefined;
  }
  if (s.length !== 36 || s[8] !== '-' || s[13] !== '-' || s[18] !== '-' || s[23] !== '-') return undefined;
  const hex = s.slice(0, 8) + s.slice(9, 13) + s.slice(14, 18) + s.slice(19, 23) + s.slice(24);
  return /^[0-9a-fA-F]{32}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

function variantOf(byte8: number): string {
  if ((byte8 & 0xc0) === 0x80) return 'RFC4122';
  if ((byte8 & 0xe0) === 0xc0) return 'Microsoft';
  if ((byte8 & 0xe0) === 0xe0) return 'Future';
  return 'Reserved';
}

function macVariables(first: number): string {
  if ((first & 0b11) === 0b11) return 'local:multicast';
  if ((first & 0b01) === 0b01) return 'global:multicast';
  if ((first & 0b10) === 0b10) return 'local:unicast';
  return 'global:unicast';
}

const GREGORIAN_TO_UNIX_100NS = 122192928000000000n;

function parseUuid(bytes: Buffer): Record<string, unknown> {
  const version = bytes[6]! >> 4;
  const out: Record<string, unknown> = { version, variant: variantOf(bytes[8]!) };
  if (version === 1 || version === 2) {
    const time = BigInt(bytes.readUInt32BE(0)) | (BigInt(bytes.readUInt16BE(4)) << 32n) | (BigInt(bytes.readUInt16BE(6) & 0xfff) << 48n);
    const since = time - GREGORIAN_TO_UNIX_100NS;
    // Go: seconds and nanoseconds by truncating division, then seconds * 1e9 + nanoseconds.
    out.time = (since / 10_000_000n) * 1_000_000_000n + (since % 10_000_000n) * 100n;
    out.nodeid = [...bytes.subarray(10, 16)].map((b) => b.toString(16).padStart(2, '0')).join('-');
    out.macvariables = macVariables(bytes[10]!);
    out.clocksequence = bytes.readUInt16BE(8) & 0x3fff;
    if (version === 2) {
      out.id = bytes.readUInt32BE(0);
      const domain = bytes[9]!;
      out.domain = ['Person', 'Group', 'Org'][domain] ?? `Domain${domain}`;
    }
  }
  return out;
}

export const uuidBuiltins: BuiltinTable = {
  'uuid.rfc4122': (evaluation, key) => {
    const cacheKey = `uuid.rfc4122\u0000${JSON.stringify(key)}`;
    const cached = evaluation.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const uuid = randomUUID();
    evaluation.cache.set(cacheKey, uuid);
    return uuid;
  },
  'uuid.parse': (_evaluation, value) => {
    const bytes = uuidBytes(stringArg(value, 1));
    return bytes === undefined ? undefined : parseUuid(bytes);
  },
};
