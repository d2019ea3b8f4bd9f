// Envoy's v3 API from the registry package @grpc/grpc-js-xds (the same protos src/envoy/protos.ts serves from),
// and strict reading of an Envoy bootstrap YAML against it.
import { envoyProtoDirs } from '../../../src/envoy/protos.js';
import { ProtoLibrary, strictFromJson, type StrictConversion } from './proto-strict.js';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

let library: ProtoLibrary | undefined;

/** The Envoy API with envoy.config.bootstrap.v3.Bootstrap loaded; extension protos load on demand. */
export function envoyLibrary(): ProtoLibrary {
  if (!library) {
    library = new ProtoLibrary(envoyProtoDirs());
    library.load(['envoy/config/bootstrap/v3/bootstrap.proto']);
  }
  return library;
}

/** Converts bootstrap YAML (already parsed) strictly; throws StrictProtoError on the first problem. */
export function readBootstrap(json: unknown): StrictConversion {
  const lib = envoyLibrary();
  return strictFromJson(lib.type(BOOTSTRAP_TYPE), json, lib.resolveAny);
}
