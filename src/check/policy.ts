// Policies compiled by `opa build -t wasm`: load one into a wasm instance, evaluate, swap on reload.
import { loadPolicy as loadWasmPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { createHostBuiltins, REFUSED_BUILTINS, unprovidedBuiltins, type HostBuiltins } from '../builtins/index.js';
import { CheckFailure, ConfigError, describeError } from '../errors.js';
import { readPolicyFiles, revisionOf, type PolicyFiles, type PolicySource } from './bundle.js';
import type { InputWriter } from './input.js';
import { memoryDescriptorFor } from './wasm-memory.js';
import { BoundedCache, stringEntryBytes, type CacheLimits } from '../bounded-cache.js';

/** The bounds of a policy's result cache (the one cache mechanism, bounded-cache.ts). */
export type ResultCacheLimits = CacheLimits;

export type { PolicySource };


export interface Policy {
  readonly source: string;
  readonly decision: string;
  /** sha256 of the wasm module and data: what a log line or metric can name. */
  readonly revision: string;
  /** Set when the policy reads a smaller document than the full one, which it writes itself (the rules library). */
  readonly inputWriter?: InputWriter;
  /**
   * The rule names a rules file declares (and the library's `default`): the only values the per-rule metric
   * takes, so its series stay bounded by the operator's file. Undefined for a Rego bundle.
   */
  readonly ruleNames?: ReadonlySet<string>;
  /**
   * The results by input text, when the policy is a pure function of its input (PolicyOptions.resultCache);
   * new and empty with every load, so a reload empties it at the moment it takes over.
   */
  readonly resultCache?: BoundedCache<string>;
  /** Evaluates the decision for an input given as JSON text; returns opa-wasm's result set. */
  evaluate(inputJson: string): unknown;
  /** The same, as the JSON text the policy wrote (check.ts reuses a decision for the same text). */
  evaluateText(inputJson: string): string;
  /** Whether the module has this entrypoint (`system/log/mask`): the decision log's mask and drop policies. */
  hasEntrypoint(entrypoint: string): boolean;
  /** Evaluates another entrypoint of the module (off the Check path: slower, opa-wasm's own evaluate); throws if it fails. */
  evaluateAt(entrypoint: string, input: unknown): unknown;
}


export interface PolicyOptions {
  /** The data document, in place of the bundle's own (the rules library is given a rules file's compiled rules). */
  dataJson?: string;
  /** The writer of the smaller document the policy reads (check/input.ts InputWriter). */
  inputWriter?: InputWriter;
  /** The rule names a rules file declares (Policy.ruleNames). */
  ruleNames?: ReadonlySet<string>;
  /**
   * Keep results by input text. Only for a policy known to be a pure function of the input it is given,
   * with no non-deterministic builtin (time, random, http.send): the rules library is (rules/library.ts).
   */
  resultCache?: ResultCacheLimits;
}

/** Reads, compiles and checks a policy into a fresh wasm instance; any problem is a ConfigError naming the file. */
export async function loadPolicy(source: PolicySource, options: PolicyOptions = {}): Promise<Policy> {
  return instantiatePolicy(source, readPolicyFiles(source), options);
}

/** Compiles and checks policy files already read (a downloaded bundle) into a fresh wasm instance; `source.path` names them in messages. */
export async function instantiatePolicy(source: PolicySource, files: PolicyFiles, options: PolicyOptions = {}): Promise<Policy> {
  const dataJson = options.dataJson ?? files.dataJson;
  let loaded: LoadedPolicy;
  // The builtins OPA's wasm target leaves to the host, one set per policy (time.now_ns is fixed per evaluation).
  const host = createHostBuiltins();
  try {
    loaded = await loadWasmPolicy(files.wasm, memoryDescriptorFor(files.wasm), host.builtins);
  } catch (error) {
    throw new ConfigError([`${source.path}: not a loadable OPA wasm policy: ${describeError(error)}`]);
  }
  // A policy that needs a builtin meshwarden does not provide is refused now, never loaded to fail every Check.
  const missing = unprovidedBuiltins(requiredBuiltinsOf(loaded));
  if (missing.length > 0) {
    throw new ConfigError(
      missing.map((name) => `${source.path}: the policy calls ${name}, which meshwarden does not provide (${REFUSED_BUILTINS[name] ?? 'not a builtin OPA\'s wasm target leaves to the host'})`),
    );
  }
  try {
    loaded.setData(encodeJson(dataJson));
  } catch (error) {
    throw new ConfigError([`${source.path}: not a loadable OPA wasm policy: ${describeError(error)}`]);
  }
  const entrypoints = Object.keys(loaded.entrypoints as Record<string, number>);
  const decision = chooseDecision(source, entrypoints);
  const entrypointId = (loaded.entrypoints as Record<string, number>)[decision]!;
  const evaluateJson = createEvaluator(loaded, entrypointId, host);
  const evaluateText = (inputJson: string): string => {
    try {
      return evaluateJson(inputJson);
    } catch (error) {
      throw new CheckFailure('evaluation_error', describeError(error), { cause: error });
    }
  };
  return Object.freeze({
    source: source.path,
    decision,
    // The revision covers the data in force: a rules file's compiled document changes it.
    revision: options.dataJson === undefined ? files.revision : revisionOf(files.wasm, dataJson),
    ...(options.inputWriter === undefined ? {} : { inputWriter: options.inputWriter }),
    ...(options.ruleNames === undefined ? {} : { ruleNames: options.ruleNames }),
    ...(options.resultCache === undefined ? {} : { resultCache: new BoundedCache<string>(options.resultCache, stringEntryBytes) }),
    evaluate: (inputJson: string): unknown => JSON.parse(evaluateText(inputJson)) as unknown,
    evaluateText,
    hasEntrypoint: (entrypoint: string): boolean => entrypoints.includes(normaliseDecision(entrypoint)),
    evaluateAt(entrypoint: string, input: unknown): unknown {
      const id = (loaded.entrypoints as Record<string, number>)[normaliseDecision(entrypoint)];
      if (id === undefined) throw new Error(`the policy has no entrypoint ${entrypoint}`);
      host.beginEvaluation();
      return loaded.evaluate(input, id);
    },
  });
}

const encoder = new TextEncoder();

/** The exports that list a module's host builtins (name → id, as JSON in the module's memory). */
interface BuiltinsExports {
  builtins(): number;
  opa_json_dump(address: number): number;
}

/** The host builtins the loaded module imports, read from its own `builtins` export. */
function requiredBuiltinsOf(loaded: LoadedPolicy): string[] {
  const exports = (loaded.wasmInstance as unknown as { exports: BuiltinsExports }).exports;
  const view = Buffer.from((loaded.mem as unknown as WasmMemory).buffer);
  const address = exports.opa_json_dump(exports.builtins());
  return Object.keys(JSON.parse(view.toString('utf8', address, view.indexOf(0, address))) as Record<string, number>);
}

/** opa-wasm takes JSON text as an ArrayBuffer, so nothing is parsed or re-serialised on the way in. */
function encodeJson(json: string): ArrayBuffer {
  return encoder.encode(json).buffer as ArrayBuffer;
}

/** The exports of an OPA wasm module (ABI 1.2) that one evaluation calls. */
interface OpaExports {
  opa_eval(reserved: number, entrypoint: number, data: number, input: number, inputLength: number, heap: number, format: number): number;
  opa_malloc(size: number): number;
  opa_heap_ptr_get(): number;
  opa_heap_ptr_set(address: number): void;
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
 * The data address and heap start are read at every call, so a later setData would be honoured. Modules of an
 * older ABI go through LoadedPolicy.evaluate.
 */
function createEvaluator(loaded: LoadedPolicy, entrypointId: number, host: HostBuiltins): (inputJson: string) => string {
  const memory = loaded.mem as unknown as WasmMemory;
  const exports = (loaded.wasmInstance as unknown as { exports: Partial<OpaExports> } | undefined)?.exports;
  // The fields read here are LoadedPolicy's own, not its documented API: should a release of opa-wasm change
  // them, its evaluate (slower by a copy, never wrong) takes over.
  const fastPath =
    Number(loaded.minorVersion) >= 2 &&
    typeof exports?.opa_eval === 'function' &&
    typeof exports.opa_malloc === 'function' &&
    typeof exports.opa_heap_ptr_get === 'function' &&
    typeof exports.opa_heap_ptr_set === 'function' &&
    typeof memory?.grow === 'function' &&
    memory.buffer instanceof ArrayBuffer &&
    typeof loaded.dataHeapPtr === 'number' &&
    typeof loaded.dataAddr === 'number';
  if (!fastPath) {
    return (inputJson) => {
      host.beginEvaluation();
      return JSON.stringify(loaded.evaluate(encodeJson(inputJson), entrypointId));
    };
  }
  const opaEval = exports.opa_eval!;
  const reserveHeap = createHeapReserver(exports as OpaExports);
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
    reserveHeap(inputAddress + written, written);
    host.beginEvaluation();
    const resultAddress = opaEval(0, entrypointId, loaded.dataAddr, inputAddress, written, inputAddress + written, 0);
    const memoryView = currentView(); // opa_eval may have grown the memory
    const end = memoryView.indexOf(0, resultAddress);
    return memoryView.toString('utf8', resultAddress, end);
  };
}

// An evaluation's heap grows with its input (parsing it, and what the policy builds from it: the rules library's
// path forms take a few hundred bytes per path byte, a full document about fifty per body byte). OPA's
// allocator grows the wasm memory a page (64 KiB) at a time as it runs out, and every grow costs about half a
// millisecond whatever its size, so the first check of a new, larger size cost time quadratic in it (a 4 MiB
// JSON body: 1.8 s of CPU the first time, 0.23 s after). Before an evaluation, the heap is reserved in one
// grow, at least doubling: OPA's own allocator is asked for the block (so its idea of the heap's top moves
// with it) and the heap pointer is put back. Reserved pages that are never touched are never resident.
const HEAP_BYTES_PER_INPUT_BYTE = 512;
const MIN_HEAP_RESERVE_BYTES = 16 * 1024 * 1024;
// Never reserve more than this in advance (a larger evaluation still grows as it needs).
const MAX_HEAP_RESERVE_BYTES = 1024 * 1024 * 1024;

/** Reserves heap above `heapStart` for an evaluation of `inputBytes`, growing the memory in one step when needed. */
function createHeapReserver(exports: OpaExports): (heapStart: number, inputBytes: number) => void {
  let reservedTop = 0;
  return (heapStart, inputBytes) => {
    const wanted = heapStart + Math.min(MAX_HEAP_RESERVE_BYTES, Math.max(MIN_HEAP_RESERVE_BYTES, inputBytes * HEAP_BYTES_PER_INPUT_BYTE));
    if (wanted <= reservedTop) return;
    const top = Math.max(wanted, Math.min(2 * reservedTop, heapStart + MAX_HEAP_RESERVE_BYTES));
    const saved = exports.opa_heap_ptr_get();
    exports.opa_heap_ptr_set(heapStart);
    exports.opa_malloc(top - heapStart);
    exports.opa_heap_ptr_set(saved);
    reservedTop = top;
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

/** Holds the policy in force; a new one replaces it only once it has loaded completely. */
export class PolicyStore {
  #current: Policy | undefined;

  get current(): Policy | undefined {
    return this.#current;
  }

  /** Swaps in a policy loaded and checked already (a downloaded bundle's). */
  replace(next: Policy): void {
    this.#current = next;
  }

  /** Loads the next policy and swaps it in; on failure the policy in force stays and the error is thrown. */
  async load(load: () => Promise<Policy>): Promise<Policy> {
    const next = await load();
    this.#current = next;
    return next;
  }
}
