// Mutations of encoded CheckRequests, as a fuzzer makes them: bit flips, byte changes, truncations, length
// changes, inserted bytes, and structural edits re-encoded with consistent lengths (a field duplicated,
// dropped, moved, or copied from another request), all driven by a seeded generator so a run is reproducible.

/** A small, fast, seeded generator (mulberry32). */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One field as it was read: its tag bytes and either raw payload bytes or, when they parse as fields, children. */
interface FieldNode {
  tag: number[];
  wireType: number;
  /** Varint, fixed or length-delimited payload bytes (without the length prefix). */
  payload: Uint8Array;
  children?: FieldNode[];
}

function readVarint(bytes: Uint8Array, at: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10 && at + i < bytes.length; i++) {
    const byte = bytes[at + i]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, at + i + 1];
    scale *= 128;
  }
  return undefined;
}

function writeVarint(value: number, out: number[]): void {
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

/** Reads bytes as a field list; undefined when they are not one (then they are a string or bytes payload). */
function parseFields(bytes: Uint8Array, depth = 0): FieldNode[] | undefined {
  if (depth > 20) return undefined;
  const fields: FieldNode[] = [];
  let at = 0;
  while (at < bytes.length) {
    const tag = readVarint(bytes, at);
    if (tag === undefined || tag[0] < 8) return undefined;
    const tagBytes = [...bytes.subarray(at, tag[1])];
    at = tag[1];
    const wireType = tag[0] % 8;
    let payload: Uint8Array;
    if (wireType === 0) {
      const value = readVarint(bytes, at);
      if (value === undefined) return undefined;
      payload = bytes.subarray(at, value[1]);
      at = value[1];
    } else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      if (at + size > bytes.length) return undefined;
      payload = bytes.subarray(at, at + size);
      at += size;
    } else if (wireType === 2) {
      const length = readVarint(bytes, at);
      if (length === undefined || length[1] + length[0] > bytes.length) return undefined;
      payload = bytes.subarray(length[1], length[1] + length[0]);
      at = length[1] + length[0];
    } else {
      return undefined;
    }
    const node: FieldNode = { tag: tagBytes, wireType, payload };
    if (wireType === 2 && payload.length > 0) {
      const children = parseFields(payload, depth + 1);
      if (children !== undefined) node.children = children;
    }
    fields.push(node);
  }
  return fields;
}

function serialize(fields: FieldNode[], out: number[] = []): number[] {
  for (const field of fields) {
    out.push(...field.tag);
    if (field.wireType !== 2) {
      out.push(...field.payload);
      continue;
    }
    const payload = field.children === undefined ? [...field.payload] : serialize(field.children);
    writeVarint(payload.length, out);
    out.push(...payload);
  }
  return out;
}

/** Every field list in the tree (the top level and every message's), for picking a place to edit. */
function fieldLists(fields: FieldNode[], lists: FieldNode[][] = []): FieldNode[][] {
  lists.push(fields);
  for (const field of fields) if (field.children !== undefined) fieldLists(field.children, lists);
  return lists;
}

function cloneTree(fields: FieldNode[]): FieldNode[] {
  return fields.map((field) => ({ ...field, ...(field.children === undefined ? {} : { children: cloneTree(field.children) }) }));
}

/** The positions of length prefixes in `bytes` (of every length-delimited field at every depth). */
function lengthPrefixes(bytes: Uint8Array, base = 0, depth = 0, found: number[] = []): number[] {
  if (depth > 20) return found;
  let at = 0;
  while (at < bytes.length) {
    const tag = readVarint(bytes, at);
    if (tag === undefined) return found;
    at = tag[1];
    const wireType = tag[0] % 8;
    if (wireType === 0) {
      const value = readVarint(bytes, at);
      if (value === undefined) return found;
      at = value[1];
    } else if (wireType === 1 || wireType === 5) {
      at += wireType === 1 ? 8 : 4;
    } else if (wireType === 2) {
      const length = readVarint(bytes, at);
      if (length === undefined) return found;
      found.push(base + at);
      lengthPrefixes(bytes.subarray(length[1], length[1] + length[0]), base + length[1], depth + 1, found);
      at = length[1] + length[0];
    } else {
      return found;
    }
  }
  return found;
}

export type MutationKind = 'bit_flip' | 'byte_set' | 'truncate' | 'length_change' | 'insert_bytes' | 'duplicate_field' | 'drop_field' | 'move_field' | 'splice_field';

export const MUTATION_KINDS: readonly MutationKind[] = ['bit_flip', 'byte_set', 'truncate', 'length_change', 'insert_bytes', 'duplicate_field', 'drop_field', 'move_field', 'splice_field'];

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x22, 0x2f, 0x25, 0xc0, 0xed];

/** One mutation of `seed` (another seed may donate a field for a splice). */
export function mutate(random: () => number, seed: Uint8Array, donor: Uint8Array, kind: MutationKind): Buffer {
  const pick = (n: number): number => Math.floor(random() * n);
  const bytes = Buffer.from(seed);
  switch (kind) {
    case 'bit_flip': {
      for (let i = 1 + pick(4); i > 0 && bytes.length > 0; i--) bytes[pick(bytes.length)]! ^= 1 << pick(8);
      return bytes;
    }
    case 'byte_set': {
      if (bytes.length > 0) bytes[pick(bytes.length)] = random() < 0.5 ? INTERESTING_BYTES[pick(INTERESTING_BYTES.length)]! : pick(256);
      return bytes;
    }
    case 'truncate':
      return bytes.subarray(0, pick(bytes.length));
    case 'length_change': {
      const prefixes = lengthPrefixes(bytes);
      if (prefixes.length === 0) return bytes;
      const at = prefixes[pick(prefixes.length)]!;
      const [length, next] = readVarint(bytes, at)!;
      const delta = [-3, -2, -1, 1, 2, 3, 64, 1 << 20][pick(8)]!;
      const out: number[] = [];
      writeVarint(Math.max(0, length + delta), out);
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(out), bytes.subarray(next)]);
    }
    case 'insert_bytes': {
      const at = pick(bytes.length + 1);
      const inserted = Buffer.from(Array.from({ length: 1 + pick(8) }, () => (random() < 0.5 ? INTERESTING_BYTES[pick(INTERESTING_BYTES.length)]! : pick(256))));
      return Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]);
    }
    default: {
      const tree = parseFields(bytes);
      if (tree === undefined) return bytes;
      const copy = cloneTree(tree);
      const lists = fieldLists(copy).filter((list) => list.length > 0);
      if (lists.length === 0) return bytes;
      const list = lists[pick(lists.length)]!;
      const index = pick(list.length);
      if (kind === 'duplicate_field') list.splice(index + pick(list.length - index + 1), 0, cloneTree([list[index]!])[0]!);
      else if (kind === 'drop_field') list.splice(index, 1);
      else if (kind === 'move_field') list.push(...list.splice(index, 1));
      else {
        const donorTree = parseFields(donor);
        const donorLists = donorTree === undefined ? [] : fieldLists(donorTree).filter((candidate) => candidate.length > 0);
        if (donorLists.length === 0) return bytes;
        const donorList = donorLists[pick(donorLists.length)]!;
        list.splice(pick(list.length + 1), 0, cloneTree([donorList[pick(donorList.length)]!])[0]!);
      }
      return Buffer.from(serialize(copy));
    }
  }
}
