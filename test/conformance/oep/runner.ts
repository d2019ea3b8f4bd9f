// Starts both servers with the suite's one policy, sends every case's bytes to both at once (one connection
// per server, all cases in flight together) and returns each case's two answers as Fields.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { compileRego } from '../../helpers/policies.js';
import { type Case } from './cases.js';
import { fieldsOf, type Fields } from './compare.js';
import { ROOT } from './meshwarden.js';
import { DISPATCH_PATH, suiteRego } from './policies.js';
import { startMeshwarden, startOpaEnvoyPlugin, type RunningServer } from './processes.js';
import { RawCheckClient, encodeCheckRequest } from './wire.js';

export const OEP_BINARY = join(ROOT, '.tools', 'bin', 'opa-envoy-plugin');
export const OEP_SOURCE = join(ROOT, '..', 'shared', 'opa-envoy-plugin');

/**
 * The opa-envoy-plugin binary, built through scripts/tools.mjs when it is missing and its source is beside
 * the repo; undefined (the suite is skipped) when neither is there.
 */
export function findOpaEnvoyPlugin(): string | undefined {
  // OEP_BINARY names another build to compare with (a path that does not exist skips the suite).
  const chosen = process.env['OEP_BINARY'];
  if (chosen !== undefined) return existsSync(chosen) ? chosen : undefined;
  if (!existsSync(OEP_BINARY) && existsSync(join(OEP_SOURCE, 'build.sh'))) {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'tools.mjs'), 'opa-envoy-plugin'], { stdio: 'inherit' });
  }
  return existsSync(OEP_BINARY) ? OEP_BINARY : undefined;
}

export interface Observation {
  oep: Fields;
  meshwarden: Fields;
}

/** opa-envoy-plugin's gRPC receive limit (reference §3); meshwarden is configured with the same. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export async function observeAll(binary: string, cases: readonly Case[]): Promise<Map<string, Observation>> {
  const rego = suiteRego();
  const bundle = compileRego(rego, DISPATCH_PATH);
  const servers: RunningServer[] = [];
  const clients: RawCheckClient[] = [];
  try {
    const started = await Promise.all([
      startOpaEnvoyPlugin(binary, { 'policy.rego': rego }, DISPATCH_PATH),
      startMeshwarden(bundle, DISPATCH_PATH, ['--max-request-bytes', String(MAX_REQUEST_BYTES)]),
    ]);
    servers.push(...started);
    const [oep, meshwarden] = started.map((server) => new RawCheckClient(server.grpcAddress)) as [RawCheckClient, RawCheckClient];
    clients.push(oep, meshwarden);
    const results = await Promise.all(
      cases.map(async (c): Promise<[string, Observation]> => {
        const bytes = Buffer.isBuffer(c.request) ? c.request : encodeCheckRequest(c.request);
        const [a, b] = await Promise.all([oep.check(bytes), meshwarden.check(bytes)]);
        const echo = c.policy === 'echo';
        return [c.name, { oep: fieldsOf(a, echo), meshwarden: fieldsOf(b, echo) }];
      }),
    );
    return new Map(results);
  } finally {
    for (const client of clients) client.close();
    await Promise.allSettled(servers.map((server) => server.stop()));
  }
}
