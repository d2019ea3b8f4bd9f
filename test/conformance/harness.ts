// Conformance harness: a real `opa run --server` (the Go Rego evaluator) on 127.0.0.1, meshwarden servers
// per policy, and converters that put both sides' answers into one comparable shape.
import { freePort } from '../helpers/ports.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { loadEnvoyApi } from '../../src/envoy/protos.js';
import { compileRego } from '../helpers/policies.js';
import { startTestServer, type CheckResponseObject, type TestServer } from '../helpers/server.js';
import { toolPath } from '../helpers/tools.js';
import { structToJson } from '../helpers/struct.js';

export { structToJson };

// ---------------------------------------------------------------------------------------------------------
// OPA server

export interface OpaServer {
  readonly url: string;
  /** PUT /v1/policies/<id>; throws with OPA's message if the module does not compile. */
  putPolicy(id: string, rego: string): Promise<void>;
  /** POST /v1/data/<path> with the input given as JSON text (so big numbers keep their digits). */
  query(path: string, inputJson: string): Promise<OpaAnswer>;
  stop(): Promise<void>;
}

/** OPA's answer: HTTP status and parsed body ({result} / {} when undefined / {code, message, errors}). */
export interface OpaAnswer {
  status: number;
  body: Record<string, any>;
}


const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `opa run --server` on 127.0.0.1:<free port> and waits until /health answers 200. */
export async function startOpa(): Promise<OpaServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    toolPath('opa'),
    // --skip-version-check: no call to GitHub; all traffic stays on 127.0.0.1.
    ['run', '--server', '--addr', `127.0.0.1:${port}`, '--skip-version-check', '--log-level', 'error'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`opa exited early (${child.exitCode}): ${stderr}`);
    try {
      const health = await fetch(`${url}/health`);
      if (health.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`opa did not become healthy: ${stderr}`);
    }
    await delay(100);
  }

  return {
    url,
    async putPolicy(id: string, rego: string): Promise<void> {
      const response = await fetch(`${url}/v1/policies/${encodeURIComponent(id)}`, {
        method: 'PUT',
        headers: { 'content-type': 'text/plain' },
        body: rego,
      });
      if (response.status !== 200) throw new Error(`opa rejected policy ${id}: ${response.status} ${await response.text()}`);
    },
    async query(path: string, inputJson: string): Promise<OpaAnswer> {
      const response = await fetch(`${url}/v1/data/${path.replace(/^\/+|\/+$/g, '')}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"input":${inputJson}}`,
      });
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    },
    stop,
  };
}

// ---------------------------------------------------------------------------------------------------------
// meshwarden servers, one per (policy, flags), started on first use and stopped together

export class MeshwardenPool {
  readonly #servers = new Map<string, Promise<TestServer>>();

  /** A real meshwarden serving `rego` compiled for `entrypoint`, with extra serve flags. */
  get(rego: string, entrypoint: string, args: string[] = []): Promise<TestServer> {
    const key = JSON.stringify([rego, entrypoint, args]);
    let server = this.#servers.get(key);
    if (server === undefined) {
      server = startTestServer(['--bundle', compileRego(rego, entrypoint), '--decision', entrypoint, ...args]);
      this.#servers.set(key, server);
    }
    return server;
  }

  async stopAll(): Promise<void> {
    const servers = [...this.#servers.values()];
    this.#servers.clear();
    await Promise.allSettled(servers.map(async (server) => (await server).stop()));
  }
}

// ---------------------------------------------------------------------------------------------------------
// google.protobuf.Struct → plain JSON: test/helpers/struct.ts (an oracle independent of src/envoy/struct.ts)


// ---------------------------------------------------------------------------------------------------------
// HTTP status enum names (the client decodes enums as names) → numbers

let statusNumbers: Map<string, number> | undefined;

export function httpStatusOf(name: string | number | undefined): number | undefined {
  if (name === undefined || typeof name === 'number') return name;
  statusNumbers ??= new Map(Object.entries(loadEnvoyApi().root.lookupEnum('envoy.type.v3.StatusCode').values));
  const number = statusNumbers.get(name);
  if (number === undefined) throw new Error(`unknown envoy.type.v3.StatusCode ${name}`);
  return number;
}

// ---------------------------------------------------------------------------------------------------------
// One comparable shape for a decision, built from meshwarden's CheckResponse and from OPA's raw result

export type Pair = [string, string];

export interface DecisionView {
  allowed: boolean;
  ok?: {
    headers: Pair[];
    responseHeadersToAdd: Pair[];
    headersToRemove: string[];
    queryParametersToSet: Pair[];
    queryParametersToRemove: string[];
  };
  denied?: { status: number; headers: Pair[]; body: string };
  /** dynamic_metadata without decision_id */
  metadata: Record<string, unknown>;
}

/** Object key order is unspecified on both sides (Go map / wasm object), so pairs are sorted stably by key. */
function sortPairs(pairs: Pair[]): Pair[] {
  return [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function headerPairs(options: any[] | undefined): Pair[] {
  return sortPairs((options ?? []).map((option) => [option.header.key, option.header.value] as Pair));
}

/** meshwarden's CheckResponse → DecisionView. */
export function viewOfResponse(response: CheckResponseObject): DecisionView {
  const metadata = structToJson(response.dynamicMetadata);
  delete metadata['decision_id'];
  const view: DecisionView = { allowed: (response.status?.code ?? 0) === 0, metadata };
  if (response.okResponse !== undefined && response.okResponse !== null) {
    const ok = response.okResponse;
    view.ok = {
      headers: headerPairs(ok.headers),
      responseHeadersToAdd: headerPairs(ok.responseHeadersToAdd),
      headersToRemove: ok.headersToRemove ?? [],
      queryParametersToSet: sortPairs((ok.queryParametersToSet ?? []).map((p: any) => [p.key, p.value] as Pair)),
      queryParametersToRemove: ok.queryParametersToRemove ?? [],
    };
  }
  if (response.deniedResponse !== undefined && response.deniedResponse !== null) {
    const denied = response.deniedResponse;
    view.denied = { status: httpStatusOf(denied.status?.code) ?? 0, headers: headerPairs(denied.headers), body: denied.body ?? '' };
  }
  return view;
}

function headerObjectPairs(value: unknown): Pair[] {
  if (value === undefined) return [];
  const objects = Array.isArray(value) ? value : [value];
  const pairs: Pair[] = [];
  for (const object of objects as Record<string, unknown>[]) {
    for (const [key, raw] of Object.entries(object)) {
      for (const item of typeof raw === 'string' ? [raw] : (raw as string[])) pairs.push([key, item]);
    }
  }
  return sortPairs(pairs);
}

/**
 * OPA's raw result → the DecisionView opa-envoy-plugin's contract (reference §2.2–2.3) gives, with
 * meshwarden's one deliberate difference on a valid decision: boolean `false` carries DeniedHttpResponse 403.
 * Returns undefined for results OEP cannot map (neither boolean nor object with a boolean `allowed`).
 */
export function expectedViewOfOpaResult(result: unknown): DecisionView | undefined {
  if (result === true) return { allowed: true, metadata: {} };
  if (result === false) return { allowed: false, denied: { status: 403, headers: [], body: '' }, metadata: {} };
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return undefined;
  const object = result as Record<string, any>;
  if (typeof object.allowed !== 'boolean') return undefined;
  const metadata = { ...(object.dynamic_metadata ?? {}) } as Record<string, unknown>;
  delete metadata['decision_id'];
  if (object.allowed) {
    return {
      allowed: true,
      ok: {
        headers: headerObjectPairs(object.headers),
        responseHeadersToAdd: headerObjectPairs(object.response_headers_to_add),
        headersToRemove: object.request_headers_to_remove ?? [],
        queryParametersToSet: headerObjectPairs(object.query_parameters_to_set),
        queryParametersToRemove: object.query_parameters_to_remove ?? [],
      },
      metadata,
    };
  }
  return {
    allowed: false,
    denied: { status: object.http_status ?? 403, headers: headerObjectPairs(object.headers), body: object.body ?? '' },
    metadata,
  };
}
