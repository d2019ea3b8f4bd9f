// gRPC bodies with a proto descriptor (opa-envoy-plugin getGRPCBody, reference §1.5 and §4.1 item 14), with a
// FileDescriptorSet compiled at test time from test/fixtures/book.proto.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { createGrpcBodyDecoder, jsonCamelCase, loadGrpcBodyDecoder, parseGrpcBody, type GrpcBodyDecoder } from '../../../src/request/grpc-body.js';
import { buildInput } from '../../../src/check/input.js';
import { parseBody } from '../../../src/request/body.js';
import { type HttpRequest } from '../../../src/envoy/types.js';
import { bookDescriptorSet, bookFrame, grpcFrame, writeBookDescriptor } from '../../helpers/grpc-descriptor.js';
import { failureOf } from '../helpers.js';

let decoder: GrpcBodyDecoder;

beforeAll(() => {
  decoder = createGrpcBodyDecoder(bookDescriptorSet());
});

const GRPC = { 'content-type': 'application/grpc' };
const METHOD = '/com.book.BookService/GetBooksViaAuthor';

/** parsed_body/truncated_body as buildInput renders them for a gRPC request. */
function bodyOf(path: string, rawBody: string | Buffer | undefined, headers: Record<string, string> = GRPC, grpc: GrpcBodyDecoder | null = decoder) {
  const http: HttpRequest = { method: 'POST', path, headers };
  if (rawBody !== undefined) http.rawBody = typeof rawBody === 'string' ? rawBody : rawBody.toString('base64');
  const input = JSON.parse(buildInput({ request: { http } }, { skipBodyParse: false, grpcDescriptor: grpc ?? undefined }).json) as Record<string, unknown>;
  return { parsed_body: input['parsed_body'], truncated_body: input['truncated_body'] };
}

/** parsed_body of one Book sent to DescribeBook. */
function book(object: Record<string, unknown>): unknown {
  return bodyOf('/com.book.BookService/DescribeBook', bookFrame('Book', object)).parsed_body;
}

describe('§4.1 item 14 (exact facts)', () => {
  it('raw_body AAAAAAYKBEpvaG4= → {"author":"John"}, not truncated', () => {
    expect(bodyOf(METHOD, 'AAAAAAYKBEpvaG4=')).toEqual({ parsed_body: { author: 'John' }, truncated_body: false });
  });

  it('AAAAAAA= (an empty message) → {}', () => {
    expect(bodyOf(METHOD, 'AAAAAAA=')).toEqual({ parsed_body: {}, truncated_body: false });
  });

  it('compression flag set → null, not truncated', () => {
    expect(bodyOf(METHOD, 'AQAAAAYKBEpvaG4=')).toEqual({ parsed_body: null, truncated_body: false });
    expect(bodyOf(METHOD, grpcFrame(Buffer.from('0a044a6f686e', 'hex'), true))).toEqual({ parsed_body: null, truncated_body: false });
  });

  it('declared length beyond the data → null, truncated_body true', () => {
    expect(bodyOf(METHOD, 'AAAAAAYKBEpv')).toEqual({ parsed_body: null, truncated_body: true });
    expect(bodyOf(METHOD, Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 1]))).toEqual({ parsed_body: null, truncated_body: true });
  });

  it('unknown method or service → null', () => {
    expect(bodyOf('/com.book.BookService/Unknown', 'AAAAAAYKBEpvaG4=')).toEqual({ parsed_body: null, truncated_body: false });
    expect(bodyOf('/com.book.NoService/GetBooksViaAuthor', 'AAAAAAYKBEpvaG4=')).toEqual({ parsed_body: null, truncated_body: false });
    // A message type is not a service; names are full names, matched exactly.
    expect(bodyOf('/com.book.Book/GetBooksViaAuthor', 'AAAAAAYKBEpvaG4=')).toEqual({ parsed_body: null, truncated_body: false });
    expect(bodyOf('/BookService/GetBooksViaAuthor', 'AAAAAAYKBEpvaG4=')).toEqual({ parsed_body: null, truncated_body: false });
    expect(bodyOf('/com.book.BookService/toString', 'AAAAAAYKBEpvaG4=')).toEqual({ parsed_body: null, truncated_body: false });
  });
});

describe('§1.5 rules', () => {
  it('needs the descriptor: without one an application/grpc body is null/false', () => {
    expect(bodyOf(METHOD, 'AAAAAAYKBEpvaG4=', GRPC, null)).toEqual({ parsed_body: null, truncated_body: false });
  });

  it('needs raw_body (pack_as_bytes): `body` alone or nothing → null/false', () => {
    expect(bodyOf(METHOD, undefined)).toEqual({ parsed_body: null, truncated_body: false });
    expect(bodyOf(METHOD, '')).toEqual({ parsed_body: null, truncated_body: false });
    const http: HttpRequest = { path: METHOD, headers: GRPC, body: '\u0000\u0000\u0000\u0000\u0006\n\u0004John' };
    expect(parseBody(http, { decoder, parsedPath: ['com.book.BookService', 'GetBooksViaAuthor'] })).toEqual({ json: 'null', truncated: false });
  });

  it('matches the content type by substring: application/grpc+proto, application/grpc; charset', () => {
    for (const type of ['application/grpc+proto', 'application/grpc; x=y', 'APPLICATION/GRPC'.toLowerCase()]) {
      expect(bodyOf(METHOD, 'AAAAAAYKBEpvaG4=', { 'content-type': type }).parsed_body).toEqual({ author: 'John' });
    }
    // application/json is looked for first: application/json bodies never reach the gRPC parser.
    expect(failureOf(() => bodyOf(METHOD, 'AAAAAAYKBEpvaG4=', { 'content-type': 'application/json+application/grpc' }))).toBe('request_parse_error');
  });

  it('parsed_path of other than 2 segments → request_parse_error (400), checked before the framing', () => {
    for (const path of ['/com.book.BookService', '/com.book.BookService/GetBooksViaAuthor/x', '/', '/a/b/c']) {
      expect(failureOf(() => bodyOf(path, 'AAAAAAYKBEpvaG4='))).toBe('request_parse_error');
    }
    expect(failureOf(() => bodyOf('/a/b/c', 'AA=='))).toBe('request_parse_error');
    // The query is not part of parsed_path; leading slashes are stripped.
    expect(bodyOf(`${METHOD}?x=1`, 'AAAAAAYKBEpvaG4=').parsed_body).toEqual({ author: 'John' });
    expect(bodyOf(`//${METHOD.slice(1)}`, 'AAAAAAYKBEpvaG4=').parsed_body).toEqual({ author: 'John' });
  });

  it('under 5 bytes of framing → request_parse_error', () => {
    for (const raw of [Buffer.from([0]), Buffer.from([0, 0, 0, 0])]) {
      expect(failureOf(() => bodyOf(METHOD, raw))).toBe('request_parse_error');
    }
  });

  it('decodes only the first message; bytes after it are ignored', () => {
    const two = Buffer.concat([Buffer.from('AAAAAAYKBEpvaG4=', 'base64'), Buffer.from('AAAAAAYKBEphbmU=', 'base64'), Buffer.from([1, 2])]);
    expect(bodyOf(METHOD, two).parsed_body).toEqual({ author: 'John' });
  });

  it('a client-streaming method → null; server methods of other request types decode', () => {
    expect(bodyOf('/com.book.BookService/UploadBooks', bookFrame('Book', { title: 'x' }))).toEqual({ parsed_body: null, truncated_body: false });
    expect(bodyOf('/com.book.BookService/Ping', grpcFrame(new Uint8Array()))).toEqual({ parsed_body: {}, truncated_body: false });
  });

  it('a message that does not decode → request_parse_error', () => {
    // field 1, length-delimited, claims 10 bytes but has 2
    expect(failureOf(() => bodyOf(METHOD, grpcFrame(Buffer.from([0x0a, 0x0a, 0x41, 0x42]))))).toBe('request_parse_error');
    // an (unknown) field 2 with wire type 7, which does not exist
    expect(failureOf(() => bodyOf(METHOD, grpcFrame(Buffer.from([0x17, 0x00]))))).toBe('request_parse_error');
    // a varint that never ends
    expect(failureOf(() => bodyOf('/com.book.BookService/DescribeBook', grpcFrame(Buffer.from([0x10, 0xff, 0xff]))))).toBe('request_parse_error');
  });

  it('unknown fields are skipped', () => {
    expect(bodyOf(METHOD, grpcFrame(Buffer.from([0x0a, 0x01, 0x4a, 0x78, 0x05]))).parsed_body).toEqual({ author: 'J' });
  });

  it('x-envoy-auth-partial-body: true wins over everything (null/true); content-length is not consulted for gRPC', () => {
    expect(bodyOf(METHOD, 'AAAAAAYKBEpvaG4=', { ...GRPC, 'x-envoy-auth-partial-body': 'true' })).toEqual({ parsed_body: null, truncated_body: true });
    expect(bodyOf(METHOD, 'AAAAAAYKBEpvaG4=', { ...GRPC, 'x-envoy-auth-partial-body': 'false' }).parsed_body).toEqual({ author: 'John' });
    expect(bodyOf(METHOD, 'AAAAAAYKBEpvaG4=', { ...GRPC, 'content-length': '1000' })).toEqual({ parsed_body: { author: 'John' }, truncated_body: false });
    expect(bodyOf(METHOD, 'AAAAAAYKBEpvaG4=', { ...GRPC, 'content-length': 'abc' }).parsed_body).toEqual({ author: 'John' });
  });

  it('skipBodyParse leaves both keys out even for a gRPC body', () => {
    const http: HttpRequest = { path: METHOD, headers: GRPC, rawBody: 'AAAAAAYKBEpvaG4=' };
    const input = JSON.parse(buildInput({ request: { http } }, { skipBodyParse: true, grpcDescriptor: decoder }).json) as Record<string, unknown>;
    expect('parsed_body' in input).toBe(false);
    expect('truncated_body' in input).toBe(false);
  });
});

describe('protojson rendering', () => {
  it('lowerCamelCase names, int64/uint64/fixed64 as strings, enum names, bytes base64, nested and repeated', () => {
    expect(
      book({
        title: 'Dune',
        isbn: '9007199254740993',
        copiesSold: '18446744073709551615',
        genre: 'SCIENCE',
        coverHash: Buffer.from([0xfb, 0xff, 0x01]),
        tags: ['a', 'b'],
        author: { fullName: 'Frank Herbert', bornYear: 1920 },
        coAuthors: [{ fullName: 'X' }, {}],
        genres: ['FICTION', 'SCIENCE'],
        delta: -5,
        big: '12345678901234567890',
        inPrint: true,
        weight: 2.5,
      }),
    ).toEqual({
      title: 'Dune',
      isbn: '9007199254740993',
      copiesSold: '18446744073709551615',
      genre: 'SCIENCE',
      coverHash: '+/8B',
      tags: ['a', 'b'],
      author: { fullName: 'Frank Herbert', bornYear: 1920 },
      coAuthors: [{ fullName: 'X' }, {}],
      genres: ['FICTION', 'SCIENCE'],
      delta: -5,
      big: '12345678901234567890',
      inPrint: true,
      weight: 2.5,
    });
  });

  it('negative int64 and an enum number without a name', () => {
    expect(book({ isbn: '-9223372036854775808', genre: 7 })).toEqual({ isbn: '-9223372036854775808', genre: 7 });
  });

  it('proto3 fields at their default are left out; optional and oneof members keep presence; a set message field is {}', () => {
    expect(book({ title: '', isbn: 0, genre: 'GENRE_UNSPECIFIED', inPrint: false, coverHash: Buffer.alloc(0), tags: [], author: {} })).toEqual({ author: {} });
    expect(book({ edition: 0, pageCount: 0 })).toEqual({ edition: 0, pageCount: 0 });
    expect(book({ ebookUrl: '' })).toEqual({ ebookUrl: '' });
  });

  it('google.protobuf.Timestamp as RFC 3339 (Z; 0, 3, 6 or 9 fraction digits)', () => {
    expect(book({ publishedAt: { seconds: 1700000000 } })).toEqual({ publishedAt: '2023-11-14T22:13:20Z' });
    expect(book({ publishedAt: { seconds: 1700000000, nanos: 5_000_000 } })).toEqual({ publishedAt: '2023-11-14T22:13:20.005Z' });
    expect(book({ publishedAt: { seconds: 0, nanos: 1000 } })).toEqual({ publishedAt: '1970-01-01T00:00:00.000001Z' });
    expect(book({ publishedAt: { seconds: -1, nanos: 1 } })).toEqual({ publishedAt: '1969-12-31T23:59:59.000000001Z' });
    expect(book({ publishedAt: { seconds: '-62135596800' } })).toEqual({ publishedAt: '0001-01-01T00:00:00Z' });
    expect(book({ publishedAt: {} })).toEqual({ publishedAt: '1970-01-01T00:00:00Z' });
  });

  it('an out-of-range Timestamp or Duration is a request_parse_error (protojson refuses to marshal it)', () => {
    expect(failureOf(() => book({ publishedAt: { seconds: '253402300800' } }))).toBe('request_parse_error');
    expect(failureOf(() => book({ publishedAt: { seconds: 0, nanos: -1 } }))).toBe('request_parse_error');
    expect(failureOf(() => book({ readingTime: { seconds: 1, nanos: -1 } }))).toBe('request_parse_error');
    expect(failureOf(() => book({ readingTime: { seconds: '315576000001' } }))).toBe('request_parse_error');
  });

  it('google.protobuf.Duration as "30s", "1.500s", "-0.000000001s"', () => {
    expect(book({ readingTime: { seconds: 30 } })).toEqual({ readingTime: '30s' });
    expect(book({ readingTime: { seconds: 1, nanos: 500_000_000 } })).toEqual({ readingTime: '1.500s' });
    expect(book({ readingTime: { seconds: 0, nanos: -1 } })).toEqual({ readingTime: '-0.000000001s' });
    expect(book({ readingTime: { seconds: -90, nanos: -250_000 } })).toEqual({ readingTime: '-90.000250s' });
    expect(book({ readingTime: {} })).toEqual({ readingTime: '0s' });
  });

  it('wrappers as their plain value (even at the default); int64 wrappers as strings', () => {
    expect(book({ subtitle: { value: '' }, printRun: { value: '42' }, signed: {} })).toEqual({ subtitle: '', printRun: '42', signed: false });
  });

  it('Struct, Value and ListValue as plain JSON; NullValue as null', () => {
    expect(
      book({
        extra: { fields: { a: { numberValue: 1.5 }, b: { listValue: { values: [{ boolValue: true }, { nullValue: 0 }] } }, c: { structValue: { fields: {} } } } },
        note: { stringValue: 'n' },
        shelf: { values: [{ stringValue: 's' }, { numberValue: 2 }] },
      }),
    ).toEqual({ extra: { a: 1.5, b: [true, null], c: {} }, note: 'n', shelf: ['s', 2] });
    expect(book({ extra: {} })).toEqual({ extra: {} });
    // A Value with no kind set cannot be marshalled.
    expect(failureOf(() => book({ note: {} }))).toBe('request_parse_error');
  });

  it('maps as objects with string keys (64-bit keys in decimal), values rendered by type', () => {
    expect(book({ ratings: { x: '5', __proto__: '1' }, byYear: { '2020': 'x', '-3': 'y' } })).toEqual({ ratings: { x: '5' }, byYear: { '2020': 'x', '-3': 'y' } });
    const parsed = book({ ratings: JSON.parse('{"__proto__":"7"}') as Record<string, unknown> }) as { ratings: Record<string, unknown> };
    expect(Object.getOwnPropertyDescriptor(parsed.ratings, '__proto__')?.value).toBe('7');
  });

  it('Any with "@type" and the message fields inline; well-known types under "value"', () => {
    expect(book({ attachment: { type_url: 'type.googleapis.com/com.book.Author', value: Buffer.from([0x0a, 0x02, 0x41, 0x42]) } })).toEqual({
      attachment: { '@type': 'type.googleapis.com/com.book.Author', fullName: 'AB' },
    });
    expect(book({ attachment: { type_url: 'type.googleapis.com/google.protobuf.Duration', value: Buffer.from([0x08, 0x1e]) } })).toEqual({
      attachment: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '30s' },
    });
    expect(book({ attachment: {} })).toEqual({ attachment: {} });
    expect(failureOf(() => book({ attachment: { type_url: 'type.googleapis.com/no.Such', value: Buffer.from([8, 1]) } }))).toBe('request_parse_error');
  });

  it('FieldMask as comma-separated lowerCamelCase paths', () => {
    expect(book({ updateMask: { paths: ['published_at', 'title', 'author.full_name'] } })).toEqual({ updateMask: 'publishedAt,title,author.fullName' });
  });

  it('float as its shortest float32 decimal, NaN and infinities as strings', () => {
    expect(book({ price: 0.1 })).toEqual({ price: 0.1 });
    expect(book({ price: 1 / 3 })).toEqual({ price: 0.33333334 });
    expect(book({ price: NaN, weight: -Infinity })).toEqual({ price: 'NaN', weight: '-Infinity' });
  });

  it('json_name from the descriptor wins over the derived name', () => {
    const set = descriptor.FileDescriptorSet.decode(bookDescriptorSet()) as unknown as {
      file: { package: string; messageType: { name: string; field: { name: string; jsonName?: string }[] }[] }[];
    };
    const request = set.file.find((file) => file.package === 'com.book')!.messageType.find((message) => message.name === 'GetBooksViaAuthorReq')!;
    request.field[0]!.jsonName = 'writer';
    const renamed = createGrpcBodyDecoder(descriptor.FileDescriptorSet.encode(set as never).finish());
    expect(parseGrpcBody(renamed, 'com.book.BookService', 'GetBooksViaAuthor', Buffer.from('AAAAAAYKBEpvaG4=', 'base64')).json).toBe('{"writer":"John"}');
  });

  it('derived JSON names follow protojson (underscores dropped, next letter raised)', () => {
    expect(jsonCamelCase('full_name')).toBe('fullName');
    expect(jsonCamelCase('a__b_1c')).toBe('aB1c');
    expect(jsonCamelCase('already')).toBe('already');
  });
});

describe('loading the descriptor', () => {
  it('reads a FileDescriptorSet file', () => {
    const loaded = loadGrpcBodyDecoder(writeBookDescriptor());
    expect('problem' in loaded).toBe(false);
  });

  it('a missing file, a non-descriptor file, an empty set or unresolved imports are problems', () => {
    const dir = tmpdir();
    expect(loadGrpcBodyDecoder(join(dir, 'no-such-descriptor.pb'))).toEqual({ problem: expect.stringContaining('cannot read the proto descriptor') });
    const text = join(dir, `meshwarden-not-a-descriptor-${process.pid}.pb`);
    writeFileSync(text, 'syntax = "proto3";\nmessage A {}\n');
    expect(loadGrpcBodyDecoder(text)).toEqual({ problem: expect.stringContaining('not a FileDescriptorSet') });
    const empty = join(dir, `meshwarden-empty-descriptor-${process.pid}.pb`);
    writeFileSync(empty, '');
    expect(loadGrpcBodyDecoder(empty)).toEqual({ problem: expect.stringContaining('no file descriptors') });
    // Without --include_imports: com.book alone, its google.protobuf imports missing.
    const set = descriptor.FileDescriptorSet.decode(bookDescriptorSet()) as unknown as { file: { package: string }[] };
    set.file = set.file.filter((file) => file.package === 'com.book');
    expect(() => createGrpcBodyDecoder(descriptor.FileDescriptorSet.encode(set as never).finish())).toThrow(/include_imports/);
  });
});

describe('wire checks (what proto.Unmarshal refuses)', () => {
  const describeBook = (bytes: number[]) => bodyOf('/com.book.BookService/DescribeBook', grpcFrame(Buffer.from(bytes)));

  it('a known field sent with another wire type, a varint over 10 bytes, a nested message that is cut → request_parse_error', () => {
    expect(failureOf(() => describeBook([0x0d, 0, 0, 0, 0]))).toBe('request_parse_error'); // title (string) as fixed32
    expect(failureOf(() => describeBook([0x10, ...Array(10).fill(0xff), 0x01]))).toBe('request_parse_error');
    expect(failureOf(() => describeBook([0x4a, 0x02, 0x0a, 0x05]))).toBe('request_parse_error'); // author.full_name cut
  });

  it('a proto3 string that is not UTF-8 → request_parse_error; bytes may hold anything', () => {
    expect(failureOf(() => describeBook([0x0a, 0x02, 0xc3, 0x28]))).toBe('request_parse_error');
    expect(describeBook([0x2a, 0x02, 0xc3, 0x28]).parsed_body).toEqual({ coverHash: 'wyg=' });
  });

  it('repeated scalars packed or not', () => {
    expect(describeBook([0xca, 0x01, 0x02, 0x01, 0x02]).parsed_body).toEqual({ genres: ['FICTION', 'SCIENCE'] });
    expect(describeBook([0xc8, 0x01, 0x01, 0xc8, 0x01, 0x02]).parsed_body).toEqual({ genres: ['FICTION', 'SCIENCE'] });
  });
});
