// A policy whose literals need more than opa-wasm's default 5 pages declares that in its memory import; it
// must load with that minimum instead of failing to instantiate.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_INITIAL_PAGES, importedMemoryMinimum, memoryDescriptorFor } from '../../../src/check/wasm-memory.js';
import { loadPolicy } from '../../../src/check/policy.js';
import { compileRegoToWasm } from '../../helpers/policies.js';

// Node's global (the project's lib settings leave out the DOM types that declare it).
declare const WebAssembly: { Module: new (bytes: Uint8Array) => unknown };

/** A minimal valid module: one function type, a function import, then the memory import with the given limits. */
function moduleImporting(limits: number[]): Uint8Array {
  const name = (text: string) => [text.length, ...Buffer.from(text)];
  const functionImport = [...name('env'), ...name('f'), 0x00, 0x00];
  const memoryImport = [...name('env'), ...name('memory'), 0x02, ...limits];
  const imports = [0x02, ...functionImport, ...memoryImport];
  const types = [0x01, 0x60, 0x00, 0x00]; // one type: () -> ()
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x05, 0x04, ...Buffer.from('note'), // a custom section first, to be skipped
    0x01, types.length, ...types,
    0x02, imports.length, ...imports,
  ]);
}

describe('importedMemoryMinimum', () => {
  it('reads the minimum of the imported memory, with or without a maximum, across a multi-byte LEB128', () => {
    const withMaximum = moduleImporting([0x01, 0x07, 0x09]);
    const large = moduleImporting([0x00, 0xac, 0x02]); // 300 pages
    expect(() => new WebAssembly.Module(withMaximum)).not.toThrow(); // the test modules are real modules
    expect(() => new WebAssembly.Module(large)).not.toThrow();
    expect(importedMemoryMinimum(withMaximum)).toBe(7);
    expect(importedMemoryMinimum(large)).toBe(300);
    expect(memoryDescriptorFor(large)).toEqual({ initial: 300 });
    expect(memoryDescriptorFor(withMaximum)).toEqual({ initial: 7 });
    expect(memoryDescriptorFor(moduleImporting([0x00, 0x02]))).toEqual({ initial: DEFAULT_INITIAL_PAGES });
  });

  it('refuses what is not a module, and a truncated one', () => {
    expect(() => importedMemoryMinimum(Buffer.from('not wasm at all'))).toThrow(/not a WebAssembly module/);
    expect(() => importedMemoryMinimum(moduleImporting([0x00, 0x07]).subarray(0, 30))).toThrow();
  });
});

describe('a policy with literals larger than the default memory', () => {
  it('loads with the memory it declares and decides', { timeout: 120_000 }, async () => {
    const names = Array.from({ length: 8_000 }, (_, i) => `"/item-${i}-${'x'.repeat(60)}"`).join(',');
    const wasm = compileRegoToWasm(
      `package envoy.authz\nimport rego.v1\nnames := {${names}}\ndefault allow := false\nallow if input.path in names\n`,
    );
    const minimum = importedMemoryMinimum(readFileSync(wasm));
    expect(minimum).toBeGreaterThan(DEFAULT_INITIAL_PAGES); // else this test would not test the case
    const policy = await loadPolicy({ path: wasm });
    expect(policy.evaluate(JSON.stringify({ path: `/item-7999-${'x'.repeat(60)}` }))).toEqual([{ result: true }]);
    expect(policy.evaluate(JSON.stringify({ path: '/item-8000' }))).toEqual([{ result: false }]);
  });
});
