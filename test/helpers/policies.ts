// Compiles Rego written in a test into a wasm bundle with the pinned opa (cached by content).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolPath } from './tools.js';

const CACHE = join(tmpdir(), 'meshwarden-test-policies');

/** Builds `opa build -t wasm -e <entrypoints…>` for the given Rego and returns the bundle's path. */
export function compileRego(rego: string, entrypoints: string | string[] = 'envoy/authz/allow'): string {
  const list = Array.isArray(entrypoints) ? entrypoints : [entrypoints];
  const key = createHash('sha256').update(rego).update(list.join(',')).digest('hex').slice(0, 20);
  const dir = join(CACHE, key);
  const bundle = join(dir, 'bundle.tar.gz');
  if (existsSync(bundle)) return bundle;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'policy.rego'), rego);
  const args = ['build', '-t', 'wasm', ...list.flatMap((entrypoint) => ['-e', entrypoint]), '-o', `${bundle}.tmp`, 'policy.rego'];
  execFileSync(toolPath('opa'), args, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('mv', [`${bundle}.tmp`, bundle]);
  return bundle;
}

/** Writes a policy's bare policy.wasm (extracted from a compiled bundle) and returns its path. */
export function compileRegoToWasm(rego: string, entrypoint = 'envoy/authz/allow'): string {
  const bundle = compileRego(rego, entrypoint);
  const wasm = bundle.replace(/bundle\.tar\.gz$/, 'policy.wasm');
  if (!existsSync(wasm)) {
    execFileSync('tar', ['-xzf', bundle, '-C', join(bundle, '..'), '/policy.wasm'], { stdio: 'ignore' });
  }
  return wasm;
}

/**
 * Builds a bundle with `opa build -t wasm` from Rego files (and data), as a bundle server would serve it:
 * `revision` goes into the manifest; `signingKey` (a PEM file) signs it with `opa build --signing-key`.
 */
export function buildBundle(options: {
  files: Record<string, string>;
  entrypoint?: string;
  revision?: string;
  signingKey?: string;
  signingAlgorithm?: string;
  extraArgs?: string[];
  target?: 'wasm' | 'rego';
  /** opa build -b: the directory is a bundle (its .manifest, with roots, is used). */
  bundleMode?: boolean;
}): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'meshwarden-bundle-'));
  const source = join(dir, 'src');
  for (const [name, text] of Object.entries(options.files)) {
    mkdirSync(join(source, name, '..'), { recursive: true });
    writeFileSync(join(source, name), text);
  }
  const output = join(dir, 'bundle.tar.gz');
  const args = [
    'build',
    ...(options.target === 'rego' ? [] : ['-t', 'wasm', '-e', options.entrypoint ?? 'envoy/authz/allow']),
    ...(options.revision === undefined ? [] : ['-r', options.revision]),
    ...(options.bundleMode === true && options.signingKey === undefined ? ['-b'] : []),
    ...(options.signingKey === undefined ? [] : ['-b', '--signing-key', options.signingKey, '--signing-alg', options.signingAlgorithm ?? 'RS256']),
    ...(options.extraArgs ?? []),
    '-o',
    output,
    '.',
  ];
  execFileSync(toolPath('opa'), args, { cwd: source, stdio: ['ignore', 'ignore', 'inherit'] });
  return readFileSync(output);
}
