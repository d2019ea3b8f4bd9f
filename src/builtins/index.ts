// The builtins OPA's wasm target leaves to the host, with the semantics of OPA's Go implementation.
export { createHostBuiltins, unprovidedBuiltins, providedBuiltinNames } from './host.js';
export { requiredBuiltins } from './required.js';
export type { HostBuiltins, HostBuiltinsOptions, OpaWasmBuiltins } from './host.js';
export { REFUSED_BUILTINS } from './refused.js';
export { BuiltinError } from './builtin.js';
export { setOpaRuntime } from './opa-runtime.js';
export type { OpaRuntimeFacts } from './opa-runtime.js';
