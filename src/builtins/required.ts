// The builtins a compiled policy imports from the host, read from the module itself (its `builtins` export).

/** The exports of an OPA wasm module that list its host builtins. */
interface BuiltinsExports {
  builtins(): number;
  opa_json_dump(address: number): number;
}

/** The part of WebAssembly.Memory used here (the DOM typings that declare it are not loaded). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

declare const WebAssembly: {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

/**
 * Instantiates the module with imports that refuse to run and reads the JSON object its `builtins()` export
 * returns (name → id): the names a loader passes to unprovidedBuiltins before accepting the policy.
 */
export function requiredBuiltins(wasm: Uint8Array): string[] {
  const memory = new WebAssembly.Memory({ initial: 5 });
  const refuse = (): never => {
    throw new Error('requiredBuiltins: the policy ran while its builtins were being listed');
  };
  const env: Record<string, unknown> = { memory, opa_abort: refuse, opa_println: refuse };
  for (let arity = 0; arity <= 4; arity++) env[`opa_builtin${arity}`] = refuse;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env });
  const exports = instance.exports as BuiltinsExports;
  const address = exports.opa_json_dump(exports.builtins());
  const bytes = new Uint8Array(memory.buffer);
  let end = address;
  while (bytes[end] !== 0) end++;
  return Object.keys(JSON.parse(new TextDecoder().decode(bytes.subarray(address, end))) as Record<string, number>).sort();
}
