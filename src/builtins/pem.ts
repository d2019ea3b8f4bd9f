// encoding/pem.Decode as Go 1.26 does it: the first well-formed block, skipping text and malformed blocks.
// The text is handled as a latin1 string, one character per byte, as Go handles []byte.
import { decodeBase64Strict } from './encoding.js';
import { BuiltinError } from './builtin.js';

export interface PemBlock {
  readonly type: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly bytes: Buffer;
}

const PEM_START = '\n-----BEGIN ';
const PEM_END = '\n-----END ';
const PEM_END_OF_LINE = '-----';

/** pem.getLine: one line without \n or \r\n, trailing spaces and tabs dropped; the rest; bytes consumed. */
function getLine(data: string): [string, string, number] {
  let i = data.indexOf('\n');
  let j: number;
  if (i < 0) {
    i = data.length;
    j = i;
  } else {
    j = i + 1;
    if (i > 0 && data[i - 1] === '\r') i--;
  }
  return [data.slice(0, i).replace(/[ \t]+$/, ''), data.slice(j), j];
}

function decodeBase64(data: string): Buffer | undefined {
  try {
    return decodeBase64Strict(data.replace(/[ \t]/g, ''), false);
  } catch (error) {
    if (error instanceof BuiltinError) return undefined;
    throw error;
  }
}

/** pem.Decode: the first block and the text after it, or undefined when there is none. */
export function decodePem(data: string): { block: PemBlock; rest: string } | undefined {
  let rest = data;
  let endTrailerIndex = 0;
  for (;;) {
    if (endTrailerIndex < 0 || endTrailerIndex > rest.length) return undefined;
    rest = rest.slice(endTrailerIndex);
    let endIndex = rest.indexOf(PEM_END);
    if (endIndex < 0) return undefined;
    endTrailerIndex = endIndex + PEM_END.length;
    const beginIndex = rest.slice(0, endIndex).lastIndexOf(PEM_START.slice(1));
    if (beginIndex < 0 || (beginIndex > 0 && rest[beginIndex - 1] !== '\n')) continue;
    const skip = beginIndex + PEM_START.length - 1;
    rest = rest.slice(skip);
    endIndex -= skip;
    endTrailerIndex -= skip;

    let [typeLine, afterType, consumed] = getLine(rest);
    rest = afterType;
    endIndex -= consumed;
    endTrailerIndex -= consumed;
    if (!typeLine.endsWith(PEM_END_OF_LINE)) continue;
    typeLine = typeLine.slice(0, -PEM_END_OF_LINE.length);

    const headers: Record<string, string> = {};
    for (;;) {
      if (rest.length === 0) return undefined;
      const [line, next, used] = getLine(rest);
      const colon = line.indexOf(':');
      if (colon < 0) break;
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
      rest = next;
      endIndex -= used;
      endTrailerIndex -= used;
    }
    if (Object.keys(headers).length > 0 && endIndex < 0) continue;

    let endTrailer = rest.slice(endTrailerIndex);
    const endTrailerLength = typeLine.length + PEM_END_OF_LINE.length;
    if (endTrailer.length < endTrailerLength) continue;
    const restOfEndLine = endTrailer.slice(endTrailerLength);
    endTrailer = endTrailer.slice(0, endTrailerLength);
    if (!endTrailer.startsWith(typeLine) || !endTrailer.endsWith(PEM_END_OF_LINE)) continue;
    if (getLine(restOfEndLine)[0].length !== 0) continue;

    let bytes: Buffer = Buffer.alloc(0);
    if (endIndex > 0) {
      const decoded = decodeBase64(rest.slice(0, endIndex));
      if (decoded === undefined) continue;
      bytes = decoded;
    }
    return { block: { type: typeLine, headers, bytes }, rest: getLine(rest.slice(endIndex + PEM_END.length - 1))[1] };
  }
}
