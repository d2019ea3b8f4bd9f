// Every CheckRequest size, raw and gzip-compressed, up to grpc-js's receive limit, gets a 413 deny
// CheckResponse (request_too_large), never RESOURCE_EXHAUSTED; beyond that limit grpc-js refuses the
// message itself (what the README says, and why Envoy never sends such a message). A real grpc-js client
// sends the bytes; a protobufjs encoder with its own copy of the upstream protos builds them.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvoyApi, CHECK_METHOD_PATH } from '../../src/envoy/protos.js';
import { transportLimitBytes } from '../../src/listeners/grpc.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MAX_REQUEST_BYTES = 1024 * 1024;
const LIMIT = transportLimitBytes(MAX_REQUEST_BYTES);

let server: TestServer;
let CheckRequest: protobuf.Type;
let CheckResponse: protobuf.Type;
const clients: grpc.Client[] = [];

beforeAll(async () => {
  server = await startTestServer(['--max-request-bytes', String(MAX_REQUEST_BYTES)]);
  ({ CheckRequest, CheckResponse } = loadEnvoyApi());
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server.stop();
});

/** A well-formed CheckRequest (an HTTP request with a body) of exactly `size` bytes. */
function checkRequestOfSize(size: number): Buffer {
  let bodyLength = size - 16;
  for (;;) {
    const bytes = Buffer.from(CheckRequest.encode({ attributes: { request: { http: { method: 'POST', path: '/upload', body: 'x'.repeat(bodyLength) } } } }).finish());
    if (bytes.length === size) return bytes;
    bodyLength += size - bytes.length;
  }
}

/** A grpc-js client sending raw bytes, optionally gzip-compressed (grpc-encoding: gzip). */
function rawClient(gzip: boolean): grpc.Client {
  const options: grpc.ChannelOptions = { 'grpc.max_send_message_length': -1 };
  if (gzip) options['grpc.default_compression_algorithm'] = grpc.compressionAlgorithms.gzip;
  const client = new grpc.Client(server.address, grpc.credentials.createInsecure(), options);
  clients.push(client);
  return client;
}

function send(client: grpc.Client, message: Buffer): Promise<{ response?: Record<string, any>; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      CHECK_METHOD_PATH,
      (value: Buffer) => value,
      (buffer: Buffer) => CheckResponse.toObject(CheckResponse.decode(buffer), { enums: String, defaults: false }),
      message,
      { deadline: Date.now() + 20_000 },
      (error, response) => resolve(error ? { error } : { response: response as Record<string, any> }),
    );
  });
}

function expectTooLargeDeny(outcome: { response?: Record<string, any>; error?: grpc.ServiceError }): void {
  expect(outcome.error).toBeUndefined();
  expect(outcome.response?.['status']).toMatchObject({ code: 7, message: 'request_too_large' });
  expect(outcome.response?.['deniedResponse']?.status).toEqual({ code: 'PayloadTooLarge' });
}

describe('CheckRequest sizes', () => {
  const sizes = [MAX_REQUEST_BYTES + 1, 2 * MAX_REQUEST_BYTES, 8 * MAX_REQUEST_BYTES, LIMIT - 1, LIMIT];

  it.each([
    ['raw', false],
    ['gzip-compressed', true],
  ])('%s: every size from the limit + 1 byte up to grpc-js receive limit is a 413 deny CheckResponse', async (_name, gzip) => {
    const client = rawClient(gzip as boolean);
    for (const size of sizes) expectTooLargeDeny(await send(client, checkRequestOfSize(size)));
    // A request just under the limit is decided (the default rules deny an anonymous caller: 403).
    const fits = await send(client, checkRequestOfSize(MAX_REQUEST_BYTES - 64));
    expect(fits.response?.['status']).toMatchObject({ code: 7 });
    expect(fits.response?.['deniedResponse']?.status).toEqual({ code: 'Forbidden' });
  }, 60_000);

  it.each([
    ['raw', false],
    ['gzip-compressed (decompressing past the limit)', true],
  ])('%s: beyond grpc-js receive limit, grpc-js itself refuses the message (RESOURCE_EXHAUSTED), and the server serves on', async (_name, gzip) => {
    const client = rawClient(gzip as boolean);
    const outcome = await send(client, checkRequestOfSize(LIMIT + 1));
    expect(outcome.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expectTooLargeDeny(await send(client, checkRequestOfSize(MAX_REQUEST_BYTES + 1)));
  }, 60_000);
});
