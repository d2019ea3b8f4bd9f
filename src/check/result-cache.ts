// The results a deterministic policy gave, by the exact input text it was given: the same input needs no
// second evaluation. Only a policy that is a pure function of the input document it reads may have one
// (the rules library: its input is the projection rules/input.ts writes, its data fixed per policy object).
// It belongs to one policy object, so a reload, which builds a new one, starts from empty, all at once.

export interface ResultCacheLimits {
  /** At most this many inputs are kept. */
  readonly maxEntries: number;
  /** At most about this many bytes of keys and results (UTF-16, as V8 may hold them, plus an overhead per entry). */
  readonly maxBytes: number;
}

/** What one entry is counted at beyond its two strings: the Map slot and the string headers. */
const ENTRY_OVERHEAD_BYTES = 64;

/** An input larger than this share of the byte bound is not kept: one request must not empty the cache. */
const LARGEST_SHARE = 1 / 64;

export class ResultCache {
  readonly #entries = new Map<string, string>();
  #bytes = 0;

  constructor(readonly limits: ResultCacheLimits) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The bytes the entries are counted at (always within limits.maxBytes). */
  get bytes(): number {
    return this.#bytes;
  }

  get(input: string): string | undefined {
    return this.#entries.get(input);
  }

  /**
   * Keeps the result of a successful evaluation, dropping the oldest entries to stay within the limits
   * (first in, first out: a hit costs one lookup and no reordering).
   */
  set(input: string, result: string): void {
    const bytes = (input.length + result.length) * 2 + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.limits.maxBytes * LARGEST_SHARE || this.#entries.has(input)) return;
    for (const [oldest, kept] of this.#entries) {
      if (this.#entries.size < this.limits.maxEntries && this.#bytes + bytes <= this.limits.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= (oldest.length + kept.length) * 2 + ENTRY_OVERHEAD_BYTES;
    }
    this.#entries.set(input, result);
    this.#bytes += bytes;
  }
}
