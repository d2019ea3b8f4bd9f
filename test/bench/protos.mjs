// Where the upstream Envoy protos live, shared by the benchmark, its no-op server and ghz.
// Same location as src/envoy/protos.ts envoyProtoDirs(): the copy @grpc/grpc-js-xds ships. Kept separate from
// dist/ so the no-op baseline does not depend on any meshwarden code.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export const AUTHORIZATION_PROTO = 'envoy/service/auth/v3/external_auth.proto';
export const CHECK_METHOD = 'envoy.service.auth.v3.Authorization/Check';

/** Include directories for external_auth.proto and everything it imports. */
export function envoyProtoDirs() {
  const root = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((dir) => join(root, 'deps', dir));
}

/** proto-loader options a typical grpc-js service would use. */
export const LOADER_OPTIONS = {
  keepCase: false,
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: true,
};
