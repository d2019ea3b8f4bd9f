// Envoy's ext_authz v3 API, loaded once from the registry package that ships Envoy's data-plane protos.
import { createRequire } from 'node:module';
import { dirname, join, isAbsolute } from 'node:path';
import { existsSync } from 'node:fs';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** Where @grpc/grpc-js-xds keeps Envoy's API and the protos it imports. */
export function envoyProtoDirs(): string[] {
  const root = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((dir) => join(root, 'deps', dir));
}

export const AUTHORIZATION_PROTO = 'envoy/service/auth/v3/external_auth.proto';
export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';
export const CHECK_METHOD_PATH = `/${AUTHORIZATION_SERVICE}/Check`;

/**
 * How decoded messages are rendered. These options give exactly opa-envoy-plugin's v3 `attributes`
 * form: lowerCamelCase JSON names, only populated fields, 64-bit integers and enums as numbers,
 * bytes as base64 strings (google.protobuf.Struct is turned into plain JSON separately).
 */
export const CONVERSION_OPTIONS: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  bytes: String,
  defaults: false,
  arrays: false,
  objects: false,
  oneofs: false,
  json: false,
};

export const HEALTH_PROTO = 'health/v1/health.proto';

/** grpc.health.v1 comes from grpc-health-check; it is loaded here only so reflection can describe it. */
function healthProtoDir(): string {
  return join(dirname(require.resolve('grpc-health-check/package.json')), 'proto');
}

export interface EnvoyApi {
  /** proto-loader definition: the service descriptors and file descriptors (for reflection). */
  packageDefinition: protoLoader.PackageDefinition;
  root: protobuf.Root;
  CheckRequest: protobuf.Type;
  CheckResponse: protobuf.Type;
  /** HTTP status codes Envoy's envoy.type.v3.StatusCode accepts (Empty=0 excluded). */
  envoyStatusCodes: ReadonlySet<number>;
}

let cached: EnvoyApi | undefined;

/** Loads the definitions once per process; later calls return the same objects. */
export function loadEnvoyApi(): EnvoyApi {
  if (cached) return cached;
  const includeDirs = envoyProtoDirs();
  const packageDefinition = protoLoader.loadSync([AUTHORIZATION_PROTO, HEALTH_PROTO], {
    keepCase: false,
    longs: Number,
    enums: Number,
    bytes: String,
    defaults: false,
    oneofs: false,
    includeDirs: [...includeDirs, healthProtoDir()],
  });

  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => {
    if (isAbsolute(target)) return target;
    for (const dir of includeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target; // google/protobuf/* are bundled with protobufjs
  };
  root.loadSync(AUTHORIZATION_PROTO, { keepCase: false });
  root.resolveAll();

  const statusEnum = root.lookupEnum('envoy.type.v3.StatusCode');
  const envoyStatusCodes = new Set(Object.values(statusEnum.values).filter((code) => code > 0));

  cached = Object.freeze({
    packageDefinition,
    root,
    CheckRequest: root.lookupType('envoy.service.auth.v3.CheckRequest'),
    CheckResponse: root.lookupType('envoy.service.auth.v3.CheckResponse'),
    envoyStatusCodes,
  });
  return cached;
}
