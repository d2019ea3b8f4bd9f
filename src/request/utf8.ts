// Bytes → text as Go turns them into JSON for opa-envoy-plugin's input: every byte that does not start a valid
// UTF-8 sequence becomes one U+FFFD (utf8.DecodeRune's width-1 error), where Node's decoder replaces a whole
// maximal subpart with one (WHATWG): `%E2%82` is ["\ufffd\ufffd"] in Go, ["\ufffd"] in Node.
import { isUtf8 } from 'node:buffer';

const REPLACEMENT = '\ufffd';

/** The text of `bytes[start, end)`, invalid sequences replaced as Go replaces them. */
export function decodeUtf8AsGo(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const view = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
  const buffer = Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  // Valid text (nearly always) is decoded at once.
  if (isUtf8(buffer)) return buffer.toString('utf8');
  let text = '';
  let runStart = 0;
  let i = 0;
  while (i < buffer.length) {
    const width = validSequenceWidth(buffer, i);
    if (width > 0) {
      i += width;
      continue;
    }
    text += buffer.toString('utf8', runStart, i) + REPLACEMENT;
    i += 1;
    runStart = i;
  }
  return text + buffer.toString('utf8', runStart, buffer.length);
}

const inRange = (byte: number | undefined, low: number, high: number): boolean => byte !== undefined && byte >= low && byte <= high;

/** The length of the valid UTF-8 sequence at `i` (Go's acceptRanges), or 0 when the byte there starts none. */
function validSequenceWidth(bytes: Buffer, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const b1 = bytes[i + 1];
  if (b0 >= 0xc2 && b0 <= 0xdf) return inRange(b1, 0x80, 0xbf) ? 2 : 0;
  const b2 = bytes[i + 2];
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const [low, high] = b0 === 0xe0 ? [0xa0, 0xbf] : b0 === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return inRange(b1, low, high) && inRange(b2, 0x80, 0xbf) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const [low, high] = b0 === 0xf0 ? [0x90, 0xbf] : b0 === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return inRange(b1, low, high) && inRange(b2, 0x80, 0xbf) && inRange(bytes[i + 3], 0x80, 0xbf) ? 4 : 0;
  }
  return 0;
}
