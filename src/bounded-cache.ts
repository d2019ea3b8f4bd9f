// The one cache mechanism: bounded in entries and in bytes, never keeping an oversized key or entry. A caller
// controls the keys (principals, certificates, policy inputs and results), so a cache that grew with them would
// hold whatever an attacker sent (1,000 distinct 1 MiB principals once kept +1 GB).

export interface CacheLimits {
  /** At most this many entries. */
  readonly maxEntries: number;
  /** At most this many bytes, as `sizeOf` estimates each entry. */
  readonly maxBytes: number;
  /** Keys longer than this (in UTF-16 code units) are never kept: their values are computed every time. */
  readonly maxKeyLength: number;
  /** An entry estimated above this is never kept, so that one request cannot empty the cache (default maxBytes). */
  readonly maxEntryBytes?: number;
}

/** A conservative estimate of the memory one entry holds: its key, its value and the Map's own share. */
export type EntrySize<T> = (key: string, value: T) => number;

// A V8 string costs up to two bytes a character (one when it is Latin-1) plus its header; a Map entry about
// this much on top of what it points to.
const ENTRY_OVERHEAD_BYTES = 64;

/** Bytes a string may hold in V8 (two a character, whatever the content, so the estimate never runs short). */
export function stringBytes(text: string): number {
  return 2 * text.length + 16;
}

/** Evicts the oldest entries first; reading an entry does not renew it (the hot keys come back soon anyway). */
export class BoundedCache<T> {
  readonly #limits: CacheLimits;
  readonly #sizeOf: EntrySize<T>;
  readonly #entries = new Map<string, { value: T; bytes: number }>();
  #bytes = 0;

  constructor(limits: CacheLimits, sizeOf: EntrySize<T>) {
    this.#limits = limits;
    this.#sizeOf = sizeOf;
  }

  get(key: string): T | undefined {
    return this.#entries.get(key)?.value;
  }

  /** Keeps the entry unless its key is too long or it alone is over the entry bound; evicts to make room. */
  set(key: string, value: T): void {
    if (key.length > this.#limits.maxKeyLength) return;
    const bytes = this.#sizeOf(key, value) + ENTRY_OVERHEAD_BYTES;
    if (bytes > (this.#limits.maxEntryBytes ?? this.#limits.maxBytes)) return;
    this.delete(key);
    while (this.#entries.size > 0 && (this.#entries.size >= this.#limits.maxEntries || this.#bytes + bytes > this.#limits.maxBytes)) {
      this.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  /** The estimated bytes held (never above maxBytes). */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** What a key and a string value may hold (a policy's result text by its input text). */
export const stringEntryBytes: EntrySize<string> = (key, value) => stringBytes(key) + stringBytes(value);

/** A pure function of a string, its results kept in `cache` (within its bounds). */
export function memoize<T>(cache: BoundedCache<T>, compute: (key: string) => T): (key: string) => T {
  return (key) => {
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const value = compute(key);
    cache.set(key, value);
    return value;
  };
}
