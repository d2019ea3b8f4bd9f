// Policies compiled by `opa build -t wasm`: load a bundle (.tar.gz) or a bare .wasm, evaluate, swap on reload.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Parser, type ReadEntry } from 'tar';
import { loadPolicy as loadWasmPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { CheckFailure, ConfigError, describeError } from '../errors.js';
import type { RulesInput } from './input.js';

export interface PolicySource {
  /** A bundle from `opa build -t wasm` (.tar.gz) or a bare policy.wasm. */
  path: string;
  /** JSON data for a bare .wasm (bundles carry their own data.json). */
  dataPath?: string;
  /** Decision path such as `envoy/authz/allow`; defaults to the policy's single entrypoint. */
  decision?: string;
}

export interface Policy {
  readonly source: string;
  readonly decision: string;
  /** sha256 of the wasm module and data: what a log line or metric can name. */
  readonly revision: string;
  /** Set for the rules library: it is given that smaller document (src/input.ts), not the full one. */
  readonly rulesInput?: RulesInput;
  /** Evaluates the decision for an input given as JSON text; returns opa-wasm's result set. */
  evaluate(inputJson: string): unknown;
  /** The same, as the JSON text the policy wrote (check.ts reuses a decision for the same text). */
  evaluateText(inputJson: string): string;
}

interface PolicyFiles {
  wasm: Buffer;
  dataJson: string;
  revision: string;
}

/** Reads, compiles and checks a policy; any problem is a ConfigError naming the file. */
export async function loadPolicy(source: PolicySource): Promise<Policy> {
  const files = readPolicyFiles(source);
  let loaded: LoadedPolicy;
  try {
    loaded = await loadWasmPolicy(files.wasm);
    loaded.setData(encodeJson(files.dataJson));
  } catch (error) {
    throw new ConfigError([`${source.path}: not a loadable OPA wasm policy: ${describeError(error)}`]);
  }
  const entrypoints = Object.keys(loaded.entrypoints as Record<string, number>);
  const decision = chooseDecision(source, entrypoints);
  const entrypointId = (loaded.entrypoints as Record<string, number>)[decision]!;
  const evaluateJson = createEvaluator(loaded, entrypointId);
  const evaluateText = (inputJson: string): string => {
    try {
      return evaluateJson(inputJson);
    } catch (error) {
      throw new CheckFailure('evaluation_error', describeError(error), { cause: error });
    }
  };
  const policy: Policy = Object.freeze({
    source: source.path,
    decision,
    revision: files.revision,
    evaluate: (inputJson: string): unknown => JSON.parse(evaluateText(inputJson)) as unknown,
    evaluateText,
  });
  instances.set(policy, loaded);
  return policy;
}

// The wasm instance behind each Policy, so that withData can replace its data without widening Policy.
const instances = new WeakMap<Policy, LoadedPolicy>();

/**
 * Replaces the data of a loaded policy (e.g. the rules library's compiled document on the rules bundle) and
 * returns it with a revision that covers the new data (and, for the rules library, the document it reads).
 * The wasm instance is shared: the policy passed in evaluates with the new data too, so call this before
 * the policy is in use.
 */
export function withData(policy: Policy, dataJson: string, rulesInput?: RulesInput): Policy {
  const loaded = instances.get(policy);
  if (loaded === undefined) throw new Error('withData: not a policy from loadPolicy');
  try {
    loaded.setData(encodeJson(dataJson));
  } catch (error) {
    throw new ConfigError([`${policy.source}: cannot set the data: ${describeError(error)}`]);
  }
  const revision = createHash('sha256').update(policy.revision).update(dataJson).digest('hex').slice(0, 16);
  const next: Policy = Object.freeze({ ...policy, revision, ...(rulesInput === undefined ? {} : { rulesInput }) });
  instances.set(next, loaded);
  return next;
}

const encoder = new TextEncoder();

/** opa-wasm takes JSON text as an ArrayBuffer, so nothing is parsed or re-serialised on the way in. */
function encodeJson(json: string): ArrayBuffer {
  return encoder.encode(json).buffer as ArrayBuffer;
}

/** The exports of an OPA wasm module (ABI 1.2) that one evaluation calls. */
interface OpaExports {
  opa_eval(reserved: number, entrypoint: number, data: number, input: number, inputLength: number, heap: number, format: number): number;
}

/** The part of WebAssembly.Memory used here (the DOM typings that declare it are not loaded). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

const WASM_PAGE_BYTES = 64 * 1024;

/**
 * Evaluation of JSON input text through the ABI 1.2 entrypoint `opa_eval`, as LoadedPolicy.evaluate's own
 * fast path does, minus its per-call copies: the text is UTF-8-encoded straight into the wasm memory above
 * the data (where opa-wasm would copy it from a fresh ArrayBuffer), and the result is found and decoded on
 * a Buffer over that memory (instead of a byte-by-byte scan for its NUL and a new TextDecoder every call).
 * The data address and heap start are read at every call, so setData (withData) is honoured. Modules of an
 * older ABI go through LoadedPolicy.evaluate.
 */
function createEvaluator(loaded: LoadedPolicy, entrypointId: number): (inputJson: string) => string {
  const memory = loaded.mem as unknown as WasmMemory;
  const exports = (loaded.wasmInstance as unknown as { exports: Partial<OpaExports> } | undefined)?.exports;
  // The fields read here are LoadedPolicy's own, not its documented API: should a release of opa-wasm change
  // them, its evaluate (slower by a copy, never wrong) takes over.
  const fastPath =
    Number(loaded.minorVersion) >= 2 &&
    typeof exports?.opa_eval === 'function' &&
    typeof memory?.grow === 'function' &&
    memory.buffer instanceof ArrayBuffer &&
    typeof loaded.dataHeapPtr === 'number' &&
    typeof loaded.dataAddr === 'number';
  if (!fastPath) return (inputJson) => JSON.stringify(loaded.evaluate(encodeJson(inputJson), entrypointId));
  const opaEval = exports.opa_eval!;
  // A view over the memory; growing the memory detaches its buffer, so the view is renewed when that happened.
  let view = Buffer.from(memory.buffer);
  const currentView = (): Buffer => (view.buffer === memory.buffer ? view : (view = Buffer.from(memory.buffer)));
  return (inputJson) => {
    const inputAddress: number = loaded.dataHeapPtr;
    let { read, written } = encoder.encodeInto(inputJson, currentView().subarray(inputAddress));
    if (read < inputJson.length) {
      const missing = inputAddress + Buffer.byteLength(inputJson, 'utf8') - memory.buffer.byteLength;
      memory.grow(Math.ceil(missing / WASM_PAGE_BYTES));
      ({ read, written } = encoder.encodeInto(inputJson, currentView().subarray(inputAddress)));
      if (read < inputJson.length) throw new Error('the input does not fit in the wasm memory');
    }
    const resultAddress = opaEval(0, entrypointId, loaded.dataAddr, inputAddress, written, inputAddress + written, 0);
    const memoryView = currentView(); // opa_eval may have grown the memory
    const end = memoryView.indexOf(0, resultAddress);
    return memoryView.toString('utf8', resultAddress, end);
  };
}

function normaliseDecision(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

function chooseDecision(source: PolicySource, entrypoints: string[]): string {
  if (source.decision !== undefined) {
    const wanted = normaliseDecision(source.decision);
    if (!entrypoints.includes(wanted)) {
      throw new ConfigError([
        `${source.path}: decision path "${source.decision}" is not an entrypoint of this policy (it has: ${entrypoints.join(', ') || 'none'}); build it with opa build -t wasm -e ${wanted}`,
      ]);
    }
    return wanted;
  }
  if (entrypoints.length !== 1) {
    throw new ConfigError([
      `${source.path}: the policy has ${entrypoints.length} entrypoints (${entrypoints.join(', ')}); choose one with --decision`,
    ]);
  }
  return entrypoints[0]!;
}

function readPolicyFiles(source: PolicySource): PolicyFiles {
  let content: Buffer;
  try {
    content = readFileSync(source.path);
  } catch (error) {
    throw new ConfigError([`${source.path}: cannot read policy: ${describeError(error)}`]);
  }
  const isGzip = content.length > 2 && content[0] === 0x1f && content[1] === 0x8b;
  const isWasm = content.length > 4 && content.readUInt32BE(0) === 0x0061736d;
  if (isGzip) {
    if (source.dataPath !== undefined) {
      throw new ConfigError([`${source.path}: a bundle carries its own data.json; --data is only for a bare .wasm`]);
    }
    return readBundle(source.path, content);
  }
  if (!isWasm) {
    throw new ConfigError([`${source.path}: neither a bundle (.tar.gz) nor a wasm module`]);
  }
  let dataJson = '{}';
  if (source.dataPath !== undefined) {
    try {
      dataJson = readFileSync(source.dataPath, 'utf8');
      JSON.parse(dataJson);
    } catch (error) {
      throw new ConfigError([`${source.dataPath}: data file is not readable JSON: ${describeError(error)}`]);
    }
  }
  return { wasm: content, dataJson, revision: revisionOf(content, dataJson) };
}

function revisionOf(wasm: Buffer, dataJson: string): string {
  return createHash('sha256').update(wasm).update(dataJson).digest('hex').slice(0, 16);
}

interface Manifest {
  wasm?: { entrypoint?: string; module?: string }[];
}

function readBundle(path: string, content: Buffer): PolicyFiles {
  const files = new Map<string, Buffer>();
  const problems: string[] = [];
  const parser = new Parser({
    strict: true,
    onReadEntry(entry: ReadEntry) {
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => files.set('/' + entry.path.replace(/^\/+/, ''), Buffer.concat(chunks)));
    },
  });
  parser.on('warn', (_code: string, message: string) => problems.push(message));
  parser.on('error', (error: Error) => problems.push(error.message));
  try {
    parser.end(content);
  } catch (error) {
    problems.push(describeError(error));
  }
  if (problems.length > 0) throw new ConfigError(problems.map((problem) => `${path}: bad bundle archive: ${problem}`));

  let manifest: Manifest = {};
  const manifestText = files.get('/.manifest');
  if (manifestText !== undefined) {
    try {
      manifest = JSON.parse(manifestText.toString('utf8')) as Manifest;
    } catch (error) {
      throw new ConfigError([`${path}: .manifest is not JSON: ${describeError(error)}`]);
    }
  }
  const modules = [...new Set((manifest.wasm ?? []).map((entry) => entry.module ?? '/policy.wasm'))];
  if (modules.length > 1) {
    throw new ConfigError([`${path}: the bundle has ${modules.length} wasm modules; meshwarden loads one`]);
  }
  const modulePath = '/' + (modules[0] ?? '/policy.wasm').replace(/^\/+/, '');
  const wasm = files.get(modulePath);
  if (wasm === undefined) {
    throw new ConfigError([`${path}: no ${modulePath} in the bundle; build it with opa build -t wasm -e <decision>`]);
  }
  const dataJson = mergeBundleData(path, files);
  return { wasm, dataJson, revision: revisionOf(wasm, dataJson) };
}

/** Every data.json of a bundle, placed at its directory's path (as OPA does). */
function mergeBundleData(path: string, files: Map<string, Buffer>): string {
  const data: Record<string, unknown> = {};
  for (const [name, content] of files) {
    if (!name.endsWith('/data.json')) continue;
    let value: unknown;
    try {
      value = JSON.parse(content.toString('utf8'));
    } catch (error) {
      throw new ConfigError([`${path}: ${name} is not JSON: ${describeError(error)}`]);
    }
    const segments = name.split('/').slice(1, -1);
    let target = data;
    for (const segment of segments) {
      const next = target[segment];
      if (typeof next === 'object' && next !== null && !Array.isArray(next)) target = next as Record<string, unknown>;
      else target = target[segment] = {};
    }
    if (segments.length === 0 && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw new ConfigError([`${path}: /data.json must hold an object`]);
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) Object.assign(target, value);
    else throw new ConfigError([`${path}: ${name} must hold an object`]);
  }
  return JSON.stringify(data);
}

/** Holds the policy in force; a new one replaces it only once it has loaded completely. */
export class PolicyStore {
  #current: Policy | undefined;

  get current(): Policy | undefined {
    return this.#current;
  }

  /**
   * Loads the source (a fresh wasm instance), lets `prepare` finish it (e.g. set a rules file's data) and
   * swaps it in; on failure the policy in force stays and the error is thrown.
   */
  async load(source: PolicySource, prepare?: (policy: Policy) => Policy): Promise<Policy> {
    const loaded = await loadPolicy(source);
    const next = prepare ? prepare(loaded) : loaded;
    this.#current = next;
    return next;
  }
}
