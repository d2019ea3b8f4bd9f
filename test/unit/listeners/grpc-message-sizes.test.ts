// src/listeners/grpc-message-sizes.ts: the declared length of every gRPC message, however the bytes are split.
import { describe, expect, it } from 'vitest';
import { MessageSizeReader } from '../../../src/listeners/grpc-message-sizes.js';

function frame(length: number, compressed = false): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(length, 1);
  return Buffer.concat([prefix, Buffer.alloc(length, 0x2a)]);
}

function sizesOf(chunks: Buffer[]): number[] {
  const reader = new MessageSizeReader();
  const sizes: number[] = [];
  for (const chunk of chunks) reader.read(chunk, (declared) => sizes.push(declared));
  return sizes;
}

describe('MessageSizeReader', () => {
  const stream = Buffer.concat([frame(3), frame(0), frame(70_000, true), frame(1)]);

  it('reads every prefix of a stream given whole', () => {
    expect(sizesOf([stream])).toEqual([3, 0, 70_000, 1]);
  });

  it.each([1, 2, 4, 5, 7, 16_384])('reads the same in chunks of %i bytes', (size) => {
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < stream.length; offset += size) chunks.push(stream.subarray(offset, offset + size));
    expect(sizesOf(chunks)).toEqual([3, 0, 70_000, 1]);
  });

  it('reports a declared size from the prefix alone, before any of the body', () => {
    expect(sizesOf([frame(30 * 1024 * 1024).subarray(0, 5)])).toEqual([30 * 1024 * 1024]);
    expect(sizesOf([Buffer.from([0, 0xff, 0xff, 0xff, 0xff])])).toEqual([0xffffffff]);
  });
});
