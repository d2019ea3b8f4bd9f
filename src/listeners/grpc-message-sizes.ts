// The sizes gRPC messages declare, read from a stream's bytes as they arrive (gRPC's length-prefixed framing:
// a compressed flag, a 4-byte big-endian length, the message). A listener learns from the 5-byte prefix what a
// message will hold before any of its body has arrived.

const PREFIX_BYTES = 5;

export class MessageSizeReader {
  /** Prefix bytes still to come (0 while inside a message body). */
  #prefixNeeded = PREFIX_BYTES;
  #declared = 0;
  /** Body bytes of the current message still to come. */
  #bodyRemaining = 0;

  /** Feeds the next chunk; calls `onMessage` with the declared length of each message whose prefix completes in it. */
  read(chunk: Uint8Array, onMessage: (declaredBytes: number) => void): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#bodyRemaining > 0) {
        const skipped = Math.min(this.#bodyRemaining, chunk.length - offset);
        this.#bodyRemaining -= skipped;
        offset += skipped;
        continue;
      }
      // Prefix byte 0 is the compressed flag; 1-4 the length.
      const position = PREFIX_BYTES - this.#prefixNeeded;
      if (position >= 1) this.#declared = this.#declared * 256 + chunk[offset]!;
      offset++;
      if (--this.#prefixNeeded === 0) {
        const declared = this.#declared;
        this.#prefixNeeded = PREFIX_BYTES;
        this.#declared = 0;
        this.#bodyRemaining = declared;
        onMessage(declared);
      }
    }
  }
}
