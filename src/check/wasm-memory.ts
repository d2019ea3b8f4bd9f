// The memory a compiled policy asks for. opa-wasm creates the memory it imports with 5 pages unless told
// otherwise, but `opa build -t wasm` declares a larger minimum when the policy's literals (a big set of names,
// a table of routes) do not fit in that: the instance then refuses to start ("memory import … is smaller than
// initial N"). The module's import section says the minimum, so it is read from there before loading.

const WASM_MAGIC = 0x6d736100; // "\0asm", little-endian
const IMPORT_SECTION = 2;
const IMPORT_KIND = { function: 0, table: 1, memory: 2, global: 3 } as const;

/** opa-wasm's own default, kept as the floor so small policies start as they always did. */
export const DEFAULT_INITIAL_PAGES = 5;

/** The minimum pages of the memory the module imports (`env.memory` for OPA), or undefined when it imports none. */
export function importedMemoryMinimum(wasm: Uint8Array): number | undefined {
  const reader = new ByteReader(wasm);
  if (wasm.length < 8 || new DataView(wasm.buffer, wasm.byteOffset, 8).getUint32(0, true) !== WASM_MAGIC) {
    throw new Error('not a WebAssembly module (no \\0asm header)');
  }
  reader.offset = 8; // magic and version
  while (reader.offset < wasm.length) {
    const id = reader.byte();
    const size = reader.u32();
    const end = reader.offset + size;
    if (end > wasm.length) throw new Error('a section runs past the end of the module');
    if (id === IMPORT_SECTION) return memoryMinimumIn(reader, end);
    reader.offset = end; // sections come in order, so custom sections and the type section are skipped
  }
  return undefined;
}

/** The memory descriptor to load `wasm` with: its declared minimum, at least opa-wasm's default. */
export function memoryDescriptorFor(wasm: Uint8Array): { initial: number } {
  return { initial: Math.max(DEFAULT_INITIAL_PAGES, importedMemoryMinimum(wasm) ?? 0) };
}

function memoryMinimumIn(reader: ByteReader, end: number): number | undefined {
  const count = reader.u32();
  for (let i = 0; i < count && reader.offset < end; i++) {
    reader.skipName(); // module
    reader.skipName(); // field
    const kind = reader.byte();
    switch (kind) {
      case IMPORT_KIND.function:
        reader.u32();
        break;
      case IMPORT_KIND.table:
        reader.byte(); // element type
        reader.limits();
        break;
      case IMPORT_KIND.memory:
        return reader.limits();
      case IMPORT_KIND.global:
        reader.byte(); // value type
        reader.byte(); // mutability
        break;
      default:
        throw new Error(`unknown import kind ${kind}`);
    }
  }
  return undefined;
}

class ByteReader {
  offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  byte(): number {
    if (this.offset >= this.bytes.length) throw new Error('the module ends early');
    return this.bytes[this.offset++]!;
  }

  /** An unsigned LEB128 of at most 32 bits. */
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
    }
    throw new Error('a LEB128 number is too long');
  }

  skipName(): void {
    const length = this.u32(); // read first: `offset += u32()` would add to the offset from before the length
    this.offset += length;
  }

  /** Limits: a flags byte (bit 0: a maximum follows), the minimum, then the maximum if any; returns the minimum. */
  limits(): number {
    const flags = this.byte();
    const minimum = this.u32();
    if ((flags & 1) !== 0) this.u32();
    return minimum;
  }
}
