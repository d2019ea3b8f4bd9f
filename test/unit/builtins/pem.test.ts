// encoding/pem.Decode's rules: blocks found anywhere after a line start, malformed ones skipped.
import { describe, expect, it } from 'vitest';
import { decodePem } from '../../../src/builtins/pem.js';

const block = (type: string, body = 'AAEC'): string => `-----BEGIN ${type}-----\n${body}\n-----END ${type}-----\n`;

describe('decodePem', () => {
  it('reads a block and what follows it', () => {
    const decoded = decodePem(`${block('CERTIFICATE')}after`);
    expect(decoded?.block.type).toBe('CERTIFICATE');
    expect(decoded?.block.bytes.toString('hex')).toBe('000102');
    expect(decoded?.rest).toBe('after');
  });

  it('skips text before a block that starts a line', () => {
    expect(decodePem(`preamble\n${block('X')}`)?.block.type).toBe('X');
  });

  it('reads headers and CRLF line ends', () => {
    const decoded = decodePem(block('KEY').replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n').replace(/\n/g, '\r\n'));
    expect(decoded?.block.headers).toEqual({ 'Proc-Type': '4,ENCRYPTED' });
    expect(decoded?.block.bytes.toString('hex')).toBe('000102');
  });

  it('skips a block with bad base64 and takes the next', () => {
    expect(decodePem(`${block('A', '!!!!')}${block('B')}`)?.block.type).toBe('B');
  });

  it.each([
    ['no block', 'hello'],
    ['a BEGIN inside a line', `x ${block('A')}`.replace('\n', ' ')],
    ['mismatched END', '-----BEGIN A-----\nAAEC\n-----END B-----\n'],
    ['text after END on its line', '-----BEGIN A-----\nAAEC\n-----END A-----junk\n'],
    ['no END', '-----BEGIN A-----\nAAEC\n'],
  ])('finds nothing in %s', (_name, text) => {
    expect(decodePem(text)).toBeUndefined();
  });
});
