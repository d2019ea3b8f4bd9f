// opa-envoy-plugin and meshwarden started as processes on one OPA config file, for the management-plane
// differentials (the config-file acceptance test, OCI registry, delta bundles): ready when their health URL answers 200, compared by what a
// Check sends back to Envoy.
import { join } from 'node:path';
import { createClient, httpCheckRequest, type AuthorizationClient } from '../../helpers/server.js';
import { freePort } from '../../helpers/ports.js';
import { toolPath } from '../../helpers/tools.js';
import { MESHWARDEN_CLI } from './meshwarden.js';
import { startReadyProcess, type ReadyProcess } from './processes.js';

export interface ManagedProcess extends ReadyProcess {
  client: AuthorizationClient;
}

async function startProcess(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, readyUrl: string, grpcAddress: string): Promise<ManagedProcess> {
  const started = await startReadyProcess(name, command, args, readyUrl, env);
  const client = createClient(grpcAddress);
  return {
    client,
    output: started.output,
    stop: async () => {
      client.close();
      await started.stop();
    },
  };
}

/** opa-envoy-plugin on `config` (its ${EXT_AUTHZ_ADDR} set here), ready once every bundle is activated. */
export async function startOpaEnvoyPlugin(binary: string, config: string, env: NodeJS.ProcessEnv, logLevel = 'error'): Promise<ManagedProcess> {
  const [grpc, http] = [await freePort(), await freePort()];
  return startProcess(
    'opa-envoy-plugin',
    binary,
    ['run', '--server', `--addr=127.0.0.1:${http}`, `--config-file=${config}`, '--skip-version-check', `--log-level=${logLevel}`],
    { ...env, EXT_AUTHZ_ADDR: `127.0.0.1:${grpc}` },
    `http://127.0.0.1:${http}/health?bundles`,
    `127.0.0.1:${grpc}`,
  );
}

/** meshwarden serve --config-file `config` (the pinned opa on PATH for Rego bundles), ready on /readyz. */
export async function startMeshwarden(config: string, env: NodeJS.ProcessEnv, logLevel = 'error'): Promise<ManagedProcess & { adminUrl: string }> {
  const [grpc, admin] = [await freePort(), await freePort()];
  const opaDir = join(toolPath('opa'), '..');
  const started = await startProcess(
    'meshwarden',
    process.execPath,
    [MESHWARDEN_CLI, 'serve', '--config-file', config, '--admin-addr', `127.0.0.1:${admin}`, '--log-level', logLevel, '--drain-ms', '0'],
    { ...env, EXT_AUTHZ_ADDR: `127.0.0.1:${grpc}`, PATH: `${opaDir}:${process.env['PATH'] ?? ''}` },
    `http://127.0.0.1:${admin}/readyz`,
    `127.0.0.1:${grpc}`,
  );
  return { ...started, adminUrl: `http://127.0.0.1:${admin}` };
}

/** What a decision sends back to Envoy, in a form both servers' answers can be compared in. */
export async function decisionOf(client: AuthorizationClient, request: { method: string; path: string }): Promise<Record<string, unknown>> {
  const response = await client.check(httpCheckRequest(request));
  const headers = (list: any[] | undefined) => Object.fromEntries((list ?? []).map((entry) => [entry.header.key, entry.header.value]));
  return {
    code: response['status']?.['code'] ?? 0,
    ...(response['okResponse'] ? { okHeaders: headers(response['okResponse'].headers) } : {}),
    ...(response['deniedResponse']
      ? { deniedStatus: response['deniedResponse'].status?.code, deniedBody: response['deniedResponse'].body, deniedHeaders: headers(response['deniedResponse'].headers) }
      : {}),
  };
}

/** Waits until `condition` holds, polling; throws `message` after `timeoutMs`. */
export async function waitUntil(condition: () => Promise<boolean> | boolean, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
