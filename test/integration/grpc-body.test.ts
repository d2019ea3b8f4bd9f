// gRPC bodies through the real server: --proto-descriptor with a FileDescriptorSet compiled from
// test/fixtures/book.proto, an echo policy, and the Check answer's dynamic metadata (§1.5, §4.1 item 14).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeConfig } from '../../src/config.js';
import { createRuntime } from '../../src/runtime.js';
import { ConfigError } from '../../src/errors.js';
import { serve } from '../../src/commands/serve.js';
import { bookFrame, writeBookDescriptor } from '../helpers/grpc-descriptor.js';
import { compileRego } from '../helpers/policies.js';
import { httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';
import { structToJson } from '../helpers/struct.js';
import { makeTempDir } from '../helpers/temp.js';

const ECHO = 'package envoy.authz\n\nallow := {"allowed": true, "dynamic_metadata": {"body": input.parsed_body, "truncated": input.truncated_body}}\n';
const GRPC = { 'content-type': 'application/grpc' };

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer(['--bundle', compileRego(ECHO), '--proto-descriptor', writeBookDescriptor()]);
});

afterAll(async () => {
  await server?.stop();
});

async function echo(path: string, rawBody: string): Promise<{ status: number; body?: unknown; truncated?: unknown; httpStatus?: unknown }> {
  const response = await server.client.check(httpCheckRequest({ method: 'POST', path, headers: GRPC, rawBody }));
  const metadata = structToJson(response.dynamicMetadata);
  return { status: response.status?.code ?? 0, body: metadata['body'], truncated: metadata['truncated'], httpStatus: response.deniedResponse?.status?.code };
}

describe('--proto-descriptor (served)', () => {
  it('item 14: /com.book.BookService/GetBooksViaAuthor with AAAAAAYKBEpvaG4= → {"author":"John"}', async () => {
    expect(await echo('/com.book.BookService/GetBooksViaAuthor', 'AAAAAAYKBEpvaG4=')).toMatchObject({ status: 0, body: { author: 'John' }, truncated: false });
  });

  it('item 14: AAAAAAA= → {}; compressed → null; short → truncated; unknown method → null', async () => {
    expect(await echo('/com.book.BookService/GetBooksViaAuthor', 'AAAAAAA=')).toMatchObject({ body: {}, truncated: false });
    expect(await echo('/com.book.BookService/GetBooksViaAuthor', 'AQAAAAYKBEpvaG4=')).toMatchObject({ body: null, truncated: false });
    expect(await echo('/com.book.BookService/GetBooksViaAuthor', 'AAAAAAYKBEpv')).toMatchObject({ body: null, truncated: true });
    expect(await echo('/com.book.BookService/Unknown', 'AAAAAAYKBEpvaG4=')).toMatchObject({ body: null, truncated: false });
  });

  it('renders with protojson: int64 as strings, enums by name, Timestamp and Duration as text', async () => {
    const raw = bookFrame('Book', {
      title: 'Dune',
      isbn: '9007199254740993',
      genre: 'FICTION',
      publishedAt: { seconds: 1700000000 },
      readingTime: { seconds: 30 },
      author: { fullName: 'Frank Herbert' },
    }).toString('base64');
    expect((await echo('/com.book.BookService/DescribeBook', raw)).body).toEqual({
      title: 'Dune',
      isbn: '9007199254740993',
      genre: 'FICTION',
      publishedAt: '2023-11-14T22:13:20Z',
      readingTime: '30s',
      author: { fullName: 'Frank Herbert' },
    });
  });

  it('a path of other than /Service/Method or a message that does not decode → 400 request_parse_error', async () => {
    for (const [path, raw] of [
      ['/com.book.BookService/GetBooksViaAuthor/extra', 'AAAAAAYKBEpvaG4='],
      ['/com.book.BookService/GetBooksViaAuthor', 'AAAA'],
      ['/com.book.BookService/GetBooksViaAuthor', 'AAAAAAQKCkFC'],
    ] as const) {
      const result = await echo(path, raw);
      expect(result.status, `${path} ${raw}`).toBe(7);
      expect(result.httpStatus).toBe('BadRequest');
    }
  });
});

describe('--proto-descriptor configuration', () => {
  it('a missing or non-descriptor file is a ConfigError naming the setting and the file', async () => {
    const dir = makeTempDir('meshwarden-bad-descriptor-');
    const text = join(dir, 'book.proto.txt');
    writeFileSync(text, 'syntax = "proto3";\n');
    const error = await serve(['--grpc-addr', '127.0.0.1:0', '--admin-addr', 'off', '--proto-descriptor', text], {}).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(`--proto-descriptor: ${text}: not a FileDescriptorSet`);
    // The file is read where the runtime is built (runtime.ts), named by where the setting came from.
    await expect(createRuntime(parseServeConfig([], { MESHWARDEN_PROTO_DESCRIPTOR: join(dir, 'missing.pb') }))).rejects.toThrow(/MESHWARDEN_PROTO_DESCRIPTOR: .*missing\.pb: cannot read the proto descriptor/);
  });

  it('is read from the config file as proto-descriptor', async () => {
    const dir = makeTempDir('meshwarden-descriptor-config-');
    const config = join(dir, 'meshwarden.yaml');
    writeFileSync(config, `proto-descriptor: ${writeBookDescriptor()}\n`);
    expect(parseServeConfig(['--config', config], {}).protoDescriptor).toBe(writeBookDescriptor());
    writeFileSync(config, `proto-descriptor: ${join(dir, 'nope.pb')}\n`);
    await expect(createRuntime(parseServeConfig(['--config', config], {}))).rejects.toThrow(ConfigError);
  });
});
