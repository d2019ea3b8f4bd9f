// The wire both servers see: CheckRequest bytes encoded once with protobufjs from Envoy's upstream protos (the
// same bytes go to both), a grpc-js generic client that passes bytes through untouched, and the decoded
// CheckResponse.
import { structToJson as structFieldsToJson } from '../../helpers/struct.js';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AUTHORIZATION_PROTO, CHECK_METHOD_PATH, envoyProtoDirs } from './meshwarden.js';

let root: protobuf.Root | undefined;

/** Envoy's ext_authz v3 API as protobufjs types (loaded once). */
export function envoyRoot(): protobuf.Root {
  if (root) return root;
  const dirs = envoyProtoDirs();
  root = new protobuf.Root();
  root.resolvePath = (_origin, target) => dirs.map((dir) => join(dir, target)).find((path) => existsSync(path)) ?? target;
  root.loadSync([AUTHORIZATION_PROTO, 'envoy/config/core/v3/address.proto'], { keepCase: false });
  root.resolveAll();
  return root;
}

/** A CheckRequest in protobufjs `fromObject` form (camelCase, int64 as strings, bytes as base64 or Uint8Array). */
export type RequestObject = Record<string, unknown>;

export function encodeCheckRequest(request: RequestObject): Buffer {
  const CheckRequest = envoyRoot().lookupType('envoy.service.auth.v3.CheckRequest');
  const problem = CheckRequest.verify(CheckRequest.fromObject(request));
  if (problem) throw new Error(`bad CheckRequest in a case: ${problem}`);
  return Buffer.from(CheckRequest.encode(CheckRequest.fromObject(request)).finish());
}

/** Encodes a message of any loaded type (for google.protobuf.Any values). */
export function encodeMessage(typeName: string, value: Record<string, unknown>): Uint8Array {
  const type = envoyRoot().lookupType(typeName);
  return type.encode(type.fromObject(value)).finish();
}

/** The decoded CheckResponse (enums as names, int64 as strings, defaults omitted), or the RPC error. */
export type Outcome = { rpcError: { code: number; details: string } } | { response: Record<string, any> };

const passThrough = (value: Buffer): Buffer => value;

export class RawCheckClient {
  readonly #client: grpc.Client;

  constructor(address: string) {
    // One HTTP/2 connection per server, every case multiplexed on it; no send limit so oversize cases reach the server.
    this.#client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': -1,
      'grpc.max_receive_message_length': -1,
    });
  }

  check(bytes: Buffer, deadlineMs = 20_000): Promise<Outcome> {
    return new Promise((resolve) => {
      this.#client.makeUnaryRequest(CHECK_METHOD_PATH, passThrough, passThrough, bytes, { deadline: Date.now() + deadlineMs }, (error, value) => {
        if (error) resolve({ rpcError: { code: error.code, details: error.details } });
        else resolve({ response: decodeCheckResponse(value as Buffer) });
      });
    });
  }

  close(): void {
    this.#client.close();
  }
}

export function decodeCheckResponse(bytes: Buffer): Record<string, any> {
  const CheckResponse = envoyRoot().lookupType('envoy.service.auth.v3.CheckResponse');
  return CheckResponse.toObject(CheckResponse.decode(bytes), { longs: String, enums: String, bytes: String, defaults: false, oneofs: false });
}

/** google.protobuf.Struct in toObject form → plain JSON (test/helpers/struct.ts); a Value with no kind is shown, not refused. */
export function structToJson(struct: unknown): Record<string, unknown> {
  return structFieldsToJson(struct, () => ({ '(google.protobuf.Value with no kind)': true }));
}
