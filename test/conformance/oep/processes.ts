// The two servers under comparison, each a real process on 127.0.0.1: opa-envoy-plugin (the reference, Go)
// with Rego files, and meshwarden with the same Rego compiled to a wasm bundle.
import { freePort } from '../../helpers/ports.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { meshwardenServeArgs } from './meshwarden.js';
import { makeTempDir } from '../../helpers/temp.js';

export interface RunningServer {
  readonly name: string;
  /** host:port of the ext_authz gRPC listener */
  readonly grpcAddress: string;
  stop(): Promise<void>;
}


const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A spawned server process: stopped with SIGTERM (SIGKILL after 5 s); what it printed is kept for messages. */
export interface ReadyProcess {
  /** What the process wrote to stdout and stderr (the first 200 kB; meshwarden logs to stdout, OPA to stderr). */
  output(): string;
  stop(): Promise<void>;
}

/** Spawns `command args` (with `env` over this process's), waits until `readyUrl` answers 200, and returns a handle that stops it. */
export async function startReadyProcess(name: string, command: string, args: string[], readyUrl: string, env: NodeJS.ProcessEnv = {}): Promise<ReadyProcess> {
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let printed = '';
  const keep = (chunk: Buffer): void => {
    if (printed.length < 200_000) printed += chunk.toString('utf8');
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited early (${child.exitCode}): ${printed}`);
    try {
      if ((await fetch(readyUrl)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not become ready at ${readyUrl}: ${printed}`);
    }
    await delay(100);
  }
  return { output: () => printed, stop };
}

async function startProcess(name: string, command: string, args: string[], readyUrl: string, grpcAddress: string): Promise<RunningServer> {
  const { stop } = await startReadyProcess(name, command, args, readyUrl);
  return { name, grpcAddress, stop };
}

/**
 * opa-envoy-plugin serving `modules` (file name → Rego) with decision `path`; ready when
 * GET /health?plugins is 200 (it has no grpc.health.v1).
 */
export async function startOpaEnvoyPlugin(binary: string, modules: Record<string, string>, path: string): Promise<RunningServer> {
  const dir = makeTempDir('meshwarden-oep-');
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const config = join(dir, 'config.yaml');
  writeFileSync(config, ['plugins:', '  envoy_ext_authz_grpc:', `    addr: 127.0.0.1:${grpcPort}`, `    path: ${path}`, ''].join('\n'));
  const files = Object.entries(modules).map(([file, rego]) => {
    const where = join(dir, file);
    writeFileSync(where, rego);
    return where;
  });
  const args = ['run', '--server', `--addr=127.0.0.1:${httpPort}`, `--config-file=${config}`, '--skip-version-check', '--log-level=error', ...files];
  return startProcess('opa-envoy-plugin', binary, args, `http://127.0.0.1:${httpPort}/health?plugins`, `127.0.0.1:${grpcPort}`);
}

/** meshwarden (`node dist/src/cli.js serve`) with a wasm bundle; ready when GET /readyz is 200. */
export async function startMeshwarden(bundle: string, decision: string, extra: string[] = []): Promise<RunningServer> {
  const [grpcPort, adminPort] = [await freePort(), await freePort()];
  const args = meshwardenServeArgs({ bundle, decision, grpcPort, adminPort, extra });
  return startProcess('meshwarden', process.execPath, args, `http://127.0.0.1:${adminPort}/readyz`, `127.0.0.1:${grpcPort}`);
}
