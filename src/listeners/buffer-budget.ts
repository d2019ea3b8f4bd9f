// One bound on the bytes every unfinished request holds at once, across all calls and connections of a process
// (gRPC Check messages and HTTP ext_authz bodies share it). The caps on connections and streams bound each
// client; this bounds all of them together: 20 streams stalled with 29 MiB of a 30 MiB message each once took
// the process from 110 MiB to 1 GB, and glibc keeps such memory after it is freed (it returns it to the OS
// only from the top of the heap), so the RSS stayed there after the clients went. With the budget, what
// stalled clients can make the process grow by is the budget, and a message that does not fit is denied
// before any of it is held.

/** Messages up to this size are small: every ordinary check is, and they may use all of the budget. */
export const SMALL_MESSAGE_BYTES = 64 * 1024;

/**
 * Large messages may fill the budget only up to this share of it: what they leave is kept for small ones, so
 * clients stalled mid-way through large messages cannot make ordinary checks be refused.
 */
const LARGE_MESSAGE_SHARE = 3 / 4;

export class BufferBudget {
  readonly #maxBytes: number;
  readonly #largeMaxBytes: number;
  #heldBytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
    this.#largeMaxBytes = Math.floor(maxBytes * LARGE_MESSAGE_SHARE);
  }

  /** The bytes reserved now by requests in progress. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  /**
   * Reserves `bytes` more for a request that already holds `alreadyHeld` (0 for a new message), if they fit;
   * whether the request counts as large is decided by its total. The caller releases what it reserved once
   * the request is over, whatever the outcome.
   */
  tryReserve(bytes: number, alreadyHeld = 0): boolean {
    const limit = alreadyHeld + bytes > SMALL_MESSAGE_BYTES ? this.#largeMaxBytes : this.#maxBytes;
    if (this.#heldBytes + bytes > limit) return false;
    this.#heldBytes += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#heldBytes -= bytes;
  }
}
