// The one place the differential suite touches meshwarden's source tree: the built CLI it runs as a real
// process and the location of Envoy's protos. When src/ moves, fix the paths here and nowhere else.
import { join } from 'node:path';
import { AUTHORIZATION_PROTO, CHECK_METHOD_PATH, envoyProtoDirs } from '../../../src/envoy/protos.js';

export { AUTHORIZATION_PROTO, CHECK_METHOD_PATH, envoyProtoDirs };

export const ROOT = join(import.meta.dirname, '..', '..', '..');

/** `npm run build` output (package.json `bin`); the suite runs it as Envoy would reach it, over a socket. */
export const MESHWARDEN_CLI = join(ROOT, 'dist', 'src', 'cli.js');

/** `serve` flags for a bundle and its decision path, listening on the given 127.0.0.1 ports. */
export function meshwardenServeArgs(options: { bundle: string; decision: string; grpcPort: number; adminPort: number; extra?: string[] }): string[] {
  return [
    MESHWARDEN_CLI,
    'serve',
    '--bundle', options.bundle,
    '--decision', options.decision,
    '--grpc-addr', `127.0.0.1:${options.grpcPort}`,
    '--admin-addr', `127.0.0.1:${options.adminPort}`,
    '--log-level', 'error',
    // No drain window: the suite stops the server only when it is done with it.
    '--drain-ms', '0',
    ...(options.extra ?? []),
  ];
}
