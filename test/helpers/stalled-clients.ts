// Clients that hold server resources the way an attacker (or a broken proxy) would: gRPC Check streams that
// stop mid-message, HTTP requests that stop mid-body, a health Watch stream that never ends.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { connect as connectHttp2, constants as http2, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { createRequire } from 'node:module';
import { connect as connectTcp, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { CHECK_METHOD_PATH } from '../../src/envoy/protos.js';

export interface StalledStreams {
  session: ClientHttp2Session;
  streams: ClientHttp2Stream[];
  /** Streams the server answered with response headers (a deny, a status), by index. */
  answered: Set<number>;
  /** What each stream received (latin1: a CheckResponse's reason code shows as text), by index. */
  received: string[];
  close(): void;
}

function writeAll(stream: { write(chunk: Buffer, callback: (error?: Error | null) => void): boolean }, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => stream.write(chunk, (error) => (error ? reject(error) : resolve())));
}

/**
 * One HTTP/2 connection with `count` Check streams, each announcing a `declaredBytes` message (the 5-byte
 * gRPC prefix) and sending `sentBytes` of it (none, when `declaredBytes` is 0: headers only), then stalling.
 * Resolves once every byte is handed to the socket.
 */
export async function openStalledCheckStreams(address: string, count: number, declaredBytes: number, sentBytes: number): Promise<StalledStreams> {
  // Node's HTTP/2 client resets streams whose response headers arrive while its session holds more than
  // maxSessionMemory (10 MB by default), and a stalled client's queued writes count: an attacker's client
  // would not, so this one may hold what it writes.
  const session = connectHttp2(`http://${address}`, { maxSessionMemory: 4096 });
  session.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  const answered = new Set<number>();
  const received: string[] = [];
  const streams: ClientHttp2Stream[] = [];
  const filler = Buffer.alloc(Math.min(sentBytes, 1024 * 1024), 0x61);
  for (let index = 0; index < count; index++) {
    const stream = session.request(
      { [http2.HTTP2_HEADER_METHOD]: 'POST', [http2.HTTP2_HEADER_PATH]: CHECK_METHOD_PATH, 'content-type': 'application/grpc', te: 'trailers' },
      { endStream: false },
    );
    stream.on('error', () => {});
    stream.on('response', () => answered.add(index));
    received.push('');
    stream.on('data', (chunk: Buffer) => (received[index] += chunk.toString('latin1')));
    streams.push(stream);
  }
  if (declaredBytes > 0) {
    await Promise.all(
      streams.map(async (stream) => {
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(declaredBytes, 1);
        try {
          await writeAll(stream, prefix);
          for (let sent = 0; sent < sentBytes && !stream.closed; sent += filler.length) await writeAll(stream, filler.subarray(0, Math.min(filler.length, sentBytes - sent)));
        } catch {
          // The server ended the stream first (its time bound, a refusal): the stall is over for this one.
        }
      }),
    );
  }
  return {
    session,
    streams,
    answered,
    received,
    close: () => session.destroy(),
  };
}

export interface StalledRequests {
  sockets: Socket[];
  /** What each connection received (an early answer: a deny), by index. */
  replies: string[];
  close(): void;
}

/** `count` HTTP/1.1 connections, each announcing a `declaredBytes` body and sending `sentBytes` of it, then stalling. */
export async function openStalledHttpRequests(port: number, count: number, declaredBytes: number, sentBytes: number): Promise<StalledRequests> {
  const filler = Buffer.alloc(Math.min(sentBytes, 1024 * 1024), 0x62);
  const replies: string[] = Array.from({ length: count }, () => '');
  const sockets = await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const socket = connectTcp(port, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', reject);
      });
      socket.on('data', (chunk: Buffer) => (replies[index] += chunk.toString('latin1')));
      try {
        await writeAll(socket, Buffer.from(`POST /api/v1/data HTTP/1.1\r\nhost: data.example\r\ncontent-type: text/plain\r\ncontent-length: ${declaredBytes}\r\n\r\n`));
        for (let sent = 0; sent < sentBytes && !socket.destroyed; sent += filler.length) await writeAll(socket, filler.subarray(0, Math.min(filler.length, sentBytes - sent)));
      } catch {
        // The server closed the connection first (its time bound).
      }
      return socket;
    }),
  );
  return { sockets, replies, close: () => sockets.forEach((socket) => socket.destroy()) };
}

export interface HealthWatch {
  /** Every status the stream delivered, in order. */
  statuses: string[];
  /** Set when the stream ended (with its status code). */
  ended: { code: number } | undefined;
  close(): void;
}

/** A grpc.health.v1 Watch stream on the server's overall health (service ""). */
export function watchHealth(address: string): HealthWatch {
  const protoDir = join(dirname(createRequire(import.meta.url).resolve('grpc-health-check/package.json')), 'proto');
  const definition = protoLoader.loadSync('health/v1/health.proto', { includeDirs: [protoDir], enums: String });
  const Health = (grpc.loadPackageDefinition(definition) as any).grpc.health.v1.Health as grpc.ServiceClientConstructor;
  const client = new Health(address, grpc.credentials.createInsecure()) as any;
  const watch: HealthWatch = { statuses: [], ended: undefined, close: () => client.close() };
  const call = client.Watch({ service: '' });
  call.on('data', (response: { status: string }) => watch.statuses.push(response.status));
  call.on('error', (error: grpc.ServiceError) => (watch.ended = { code: error.code }));
  call.on('status', (status: grpc.StatusObject) => (watch.ended ??= { code: status.code }));
  return watch;
}
