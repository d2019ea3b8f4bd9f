// test/fixtures/book.proto compiled with protobufjs into a binary FileDescriptorSet (what
// `protoc --descriptor_set_out FILE --include_imports` writes), plus gRPC framing for test bodies.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { makeTempDir } from './temp.js';

export const BOOK_PROTO = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'book.proto');

/** book.proto as protobufjs parses it, for encoding test messages (independent of the server's decoder). */
export function bookRoot(): protobuf.Root {
  return protobuf.loadSync(BOOK_PROTO);
}

/** The FileDescriptorSet bytes for book.proto and the google.protobuf types it imports. */
export function bookDescriptorSet(): Uint8Array {
  const set = (bookRoot() as unknown as { toDescriptor(edition: string): protobuf.Message }).toDescriptor('proto3');
  return descriptor.FileDescriptorSet.encode(set).finish();
}

let written: string | undefined;

/** Writes the descriptor set to a temporary file (once per test file) and returns its path. */
export function writeBookDescriptor(): string {
  if (written === undefined) {
    const dir = makeTempDir('meshwarden-grpc-');
    written = join(dir, 'book.pb');
    writeFileSync(written, bookDescriptorSet());
  }
  return written;
}

/** One length-prefixed gRPC message: flag byte, big-endian length, the message. */
export function grpcFrame(message: Uint8Array, compressed = false): Buffer {
  const header = Buffer.alloc(5);
  header[0] = compressed ? 1 : 0;
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/** Encodes `object` (protobufjs fromObject form) as `com.book.<type>` and frames it. */
export function bookFrame(type: string, object: Record<string, unknown>): Buffer {
  const messageType = bookRoot().lookupType(`com.book.${type}`);
  return grpcFrame(messageType.encode(messageType.fromObject(object)).finish());
}
