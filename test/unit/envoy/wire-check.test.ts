// src/envoy/wire-check.ts: bytes a conformant protobuf decoder refuses, or reads otherwise than protobufjs,
// crafted by hand; valid requests (every example, unknown fields, packed and unpacked) pass.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnvoyApi } from '../../../src/envoy/protos.js';
import { fromProtoJson } from '../../../src/envoy/protojson.js';
import { createWireChecker } from '../../../src/envoy/wire-check.js';
import { ROOT } from '../../helpers/tools.js';

const api = loadEnvoyApi();
const { CheckRequest } = api;
const check = createWireChecker(CheckRequest);
const encode = (object: Record<string, unknown>): Buffer => Buffer.from(CheckRequest.encode(CheckRequest.fromObject(object)).finish());

/** A length-delimited field: tag, length, payload. */
function field(number: number, payload: number[] | Buffer): number[] {
  const bytes = [...payload];
  return [...varint(number * 8 + 2), ...varint(bytes.length), ...bytes];
}
function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}
const utf8 = (text: string): number[] => [...Buffer.from(text, 'utf8')];
// CheckRequest.attributes = 1; AttributeContext.source = 1, request = 4; Peer.principal = 5;
// AttributeContext.Request.http = 2; HttpRequest.method = 2, headers = 3 (map), path = 4, size = 9.
const withHttp = (...http: number[][]): Buffer => Buffer.from(field(1, field(4, field(2, http.flat()))));

describe('valid messages pass', () => {
  const examples = readdirSync(join(ROOT, 'examples', 'requests')).filter((name) => name.endsWith('.json'));
  it.each(examples)('examples/requests/%s', (name) => {
    const json = JSON.parse(readFileSync(join(ROOT, 'examples', 'requests', name), 'utf8')) as unknown;
    expect(check(Buffer.from(CheckRequest.encode(fromProtoJson(CheckRequest, json)).finish()))).toBeUndefined();
  });

  it.each<[string, Buffer]>([
    ['empty', Buffer.alloc(0)],
    ['every kind of field', encode({ attributes: { source: { address: { socketAddress: { address: '1.2.3.4', portValue: 5 } }, principal: 'spiffe://a/b' }, request: { time: { seconds: 1, nanos: 2 }, http: { method: 'GET', headers: { a: 'b', é: 'ü' }, path: '/x', size: 7, rawBody: Buffer.from([0xff, 0xfe]) } }, contextExtensions: { k: 'v' }, metadataContext: { filterMetadata: { f: { fields: { n: { numberValue: 1.5 }, l: { listValue: { values: [{ boolValue: true }, { nullValue: 0 }] } } } } } } } })],
    ['an unknown varint, fixed64, fixed32 and length-delimited field', Buffer.from([...withHttp(utf8('')), ...[0xa0, 0x06, 0x01], ...[0xa1, 0x06, 1, 2, 3, 4, 5, 6, 7, 8], ...[0xa5, 0x06, 1, 2, 3, 4], ...[0xa2, 0x06, 0x02, 0xff, 0xff]])],
    ['an unknown group', Buffer.from([0xa3, 0x06, 0x08, 0x01, 0xa4, 0x06])],
    ['ASCII and UTF-8 strings shorter and longer than the ASCII scan', withHttp(field(2, utf8('GET')), field(4, utf8('/'.repeat(300))), field(7, utf8('é'.repeat(200))), field(10, utf8('a'.repeat(255) + 'ü')))],
    ['an unknown field numbered 64 (past the array of field numbers) and a two-byte length (fragment, 200 bytes)', withHttp(field(8, utf8('b'.repeat(200))), [0x82, 0x04, 0x00])],
    ['a 10-byte varint', Buffer.from(field(1, field(4, field(2, [0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))))],
    // Struct.fields entries (a map: a repeated field) and ListValue.values (repeated messages) may repeat.
    ['repeated fields', Buffer.from(field(1, field(11, field(1, [...field(1, utf8('f')), ...field(2, [...field(1, field(1, utf8('a'))), ...field(1, field(1, utf8('b')))])]))))],
  ])('%s', (_name, bytes) => {
    expect(check(bytes)).toBeUndefined();
  });
});

describe('malformed messages are refused', () => {
  it.each<[string, Buffer, RegExp]>([
    ['a length past the end of the buffer', Buffer.from([0x0a, 0x05, 0x01]), /longer than what is left/],
    ['a length past its enclosing message (but within the buffer)', Buffer.from([...field(1, [0x22, 0x05, 0x12, 0x01, 0x41]), 0, 0, 0, 0, 0]), /longer than what is left/],
    // Field 2 of CheckRequest is unknown: its framing alone is checked.
    ['a truncated varint', Buffer.from([0x10, 0xff]), /varint runs past/],
    ['a varint of 11 bytes', Buffer.from([0x10, ...Array(10).fill(0xff), 0x01]), /longer than 10 bytes|overflows/],
    ['a 10-byte varint over 64 bits', Buffer.from([0x10, ...Array(9).fill(0xff), 0x02]), /overflows 64 bits/],
    ['field number 0', Buffer.from([0x02, 0x00]), /invalid field number 0/],
    ['wire type 7', Buffer.from([0x17, 0x00]), /invalid wire type 7/],
    ['wire type 6', Buffer.from([0x16]), /invalid wire type 6/],
    ['an end group without its start', Buffer.from([0x14]), /without its start/],
    ['a known message field with wire type 6', Buffer.from([0x0e]), /wire type 6, expected 2/],
    ['a group that never ends', Buffer.from([0xa3, 0x06, 0x08, 0x01]), /has no end/],
    ['a group ended by another number', Buffer.from([0xa3, 0x06, 0xac, 0x06]), /ends as group/],
    ['invalid UTF-8 in a proto3 string (method)', withHttp(field(2, [0x47, 0xc3, 0x28])), /not valid UTF-8/],
    ['invalid UTF-8 in a map key (headers)', withHttp(field(3, [...field(1, [0xff]), ...field(2, utf8('v'))])), /not valid UTF-8/],
    ['invalid UTF-8 in a map value', withHttp(field(3, [...field(1, utf8('k')), ...field(2, [0xed, 0xa0, 0x80])])), /not valid UTF-8/],
    // ASCII up to 256 bytes is scanned in JavaScript; what follows a long ASCII run, or any longer string, goes to isUtf8.
    ['invalid UTF-8 after 255 ASCII bytes (path)', withHttp(field(4, [...utf8('/'.repeat(255)), 0xc3])), /not valid UTF-8/],
    ['invalid UTF-8 after 300 ASCII bytes (path)', withHttp(field(4, [...utf8('/'.repeat(300)), 0x80])), /not valid UTF-8/],
    ['a lone surrogate encoded in UTF-8 in the principal', Buffer.from(field(1, field(1, field(5, [0xed, 0xb0, 0x80])))), /not valid UTF-8/],
    ['a known string field as a varint (wrong wire type)', withHttp([0x20, 0x05]), /wire type 0, expected 2/],
    ['a known int64 field as length-delimited (wrong wire type)', withHttp(field(9, [0x01])), /wire type 2, expected 0/],
    ['the attributes message twice (Go merges, protobufjs keeps the last)', Buffer.from([...field(1, []), ...field(1, [])]), /comes twice/],
    ['a string field twice', withHttp(field(4, utf8('/a')), field(4, utf8('/b'))), /comes twice/],
    ['two members of one oneof (SocketAddress port_value and named_port)', Buffer.from(field(1, field(1, field(1, field(1, [0x18, 0x05, ...field(4, utf8('http'))]))))), /oneof already set/],
  ])('%s', (_name, bytes, problem) => {
    expect(check(bytes)).toMatch(problem);
  });

  it('refuses messages nested deeper than 100 levels (Struct values in a list in a list …)', () => {
    let value: number[] = [0x20, 0x01]; // Value.bool_value = true
    for (let i = 0; i < 120; i++) value = field(6, field(1, value)); // Value.list_value = ListValue{values: [value]}
    const struct = field(1, [...field(1, utf8('k')), ...field(2, value)]); // Struct.fields entry
    const metadata = field(1, [...field(1, utf8('f')), ...field(2, struct)]); // Metadata.filter_metadata entry
    expect(check(Buffer.from(field(1, field(11, metadata))))).toMatch(/nested deeper than 100/);
  });
});
