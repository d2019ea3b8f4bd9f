// Runs Rego calls both ways: compiled to wasm and evaluated with opa-wasm and our builtins, and by Go OPA.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { createHostBuiltins, setOpaRuntime } from '../../../src/builtins/index.js';
import { PACKAGE_VERSION } from '../../../src/package-paths.js';
import { compileRegoToWasm } from '../../helpers/policies.js';
import { ROOT } from '../../helpers/tools.js';

/**
 * One family's cases: a name → a Rego expression (its value is the case's result; undefined stays visible as
 * a missing key) or a body whose last statement binds `x`, written `{ body }`.
 */
export type Cases = Readonly<Record<string, string | { body: string }>>;

export interface Difference {
  readonly family: string;
  readonly name: string;
  readonly go: unknown;
  readonly wasm: unknown;
}

const OEP = join(ROOT, '.tools', 'bin', 'opa-envoy-plugin');

/**
 * True when opa-envoy-plugin's binary (OPA v1.19.1) is there to compare with. Without it (a user's clone
 * without ../shared) the comparison is skipped: another OPA release answers some calls differently.
 */
export function hasOpaEnvoyPlugin(): boolean {
  return existsSync(OEP);
}

/** The Go evaluator: opa-envoy-plugin's (OPA v1.19.1). */
export function goOpa(): { path: string; name: string } {
  return { path: OEP, name: 'opa-envoy-plugin (OPA 1.19.1)' };
}

export function policyOf(cases: Cases): string {
  const rules = Object.entries(cases).map(([name, call]) => {
    const body = typeof call === 'string' ? `x := ${call}` : call.body;
    return `r[${JSON.stringify(name)}] := x if {\n  ${body}\n}`;
  });
  return `package differential\n\n${rules.join('\n\n')}\n`;
}

export interface DifferentialResult {
  readonly go: Record<string, unknown>;
  readonly wasm: Record<string, unknown>;
  readonly differences: Difference[];
}

/** Evaluates every case with Go OPA and with opa-wasm plus our builtins, and lists where they differ. */
export async function runDifferential(family: string, cases: Cases, input: unknown = {}): Promise<DifferentialResult> {
  const rego = policyOf(cases);
  const wasmPath = compileRegoToWasm(rego, 'differential/r');
  const dir = dirname(wasmPath);
  const regoPath = join(dir, 'differential.rego');
  const inputPath = join(dir, 'input.json');
  writeFileSync(regoPath, rego);
  writeFileSync(inputPath, JSON.stringify(input));

  // opa.runtime() as createRuntime describes it, less the config file: `opa eval` has none.
  setOpaRuntime({ version: PACKAGE_VERSION, commit: '' });
  const host = createHostBuiltins();
  const policy = await loadPolicy(readFileSync(wasmPath), undefined, host.builtins);
  host.beginEvaluation();
  const resultSet = policy.evaluate(input) as Array<{ result: Record<string, unknown> }>;
  const wasm = resultSet[0]?.result ?? {};

  const output = execFileSync(goOpa().path, ['eval', '--format', 'json', '-d', regoPath, '-i', inputPath, 'data.differential.r'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const parsed = JSON.parse(output) as { result?: Array<{ expressions: Array<{ value: Record<string, unknown> }> }> };
  const go = parsed.result?.[0]?.expressions[0]?.value ?? {};

  const differences: Difference[] = [];
  for (const name of Object.keys(cases)) {
    if (!isDeepStrictEqual(go[name], wasm[name])) differences.push({ family, name, go: go[name], wasm: wasm[name] });
  }
  return { go, wasm, differences };
}

/** A scratch folder for fixtures the cases need (keys, certificates), under the compile cache. */
export function scratchDir(name: string): string {
  const dir = join(ROOT, 'node_modules', '.cache', 'meshwarden-builtins', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
