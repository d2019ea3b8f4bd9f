// A downloaded (or persisted) bundle archive → its checked content: size limits, signatures, manifest, the
// wasm module (compiled first when the bundle is Rego source), its data within its roots. Any problem is a
// ConfigError naming the bundle. bundle-set.ts puts the bundles together into the policy. A delta bundle (OPA's
// patch.json, data patches only) is read here and applied by bundle-set.ts onto the snapshot in force.
import { bundleDataJson, hasWasmModule, policyFilesOfBundle, readBundleArchive, readManifest, type Manifest, type PolicyFiles } from '../check/bundle.js';
import { ConfigError } from '../errors.js';
import type { BundleSetting } from './config-file.js';
import { readPatch, type PatchOperation } from './delta-patch.js';
import { compileRegoBundle, entrypointsOf, isRegoSourceBundle } from './rego-compile.js';
import { verifyBundleSignatures } from './signatures.js';

export interface ContentOptions {
  /** The decision path: an entrypoint a policy bundle's wasm module must have. */
  decision: string;
  /** Entrypoints compiled into a Rego-source bundle's module when it defines them (the decision log's mask and drop). */
  optionalEntrypoints?: readonly string[];
  /** The opa that compiles Rego-source bundles (default: opa on PATH). */
  opa?: string;
}

export interface BundleContent {
  readonly kind: 'snapshot';
  readonly name: string;
  /** The manifest's revision ('' without one): what OPA's status reports. */
  readonly revision: string;
  /** The manifest's roots as paths of segments; [[]] (everything) without roots, as OPA. */
  readonly roots: readonly (readonly string[])[];
  /** The manifest's wasm resolvers, as a comparable text: a delta must have the same ones (and the same roots). */
  readonly wasmResolvers: string;
  /** The bundle's data document. */
  readonly data: Record<string, unknown>;
  /** The wasm module and data, when the bundle carries a policy (a data-only bundle does not). */
  readonly policyFiles?: PolicyFiles;
}

/** A delta bundle as read: its operations, to apply onto the bundle in force (bundle-set.ts). */
export interface DeltaContent {
  readonly kind: 'delta';
  readonly name: string;
  readonly revision: string;
  readonly roots: readonly (readonly string[])[];
  readonly wasmResolvers: string;
  readonly operations: readonly PatchOperation[];
}

/** Reads, verifies and (for Rego source) compiles `archive`; a delta bundle is read and checked, not applied. */
export async function readBundleContent(setting: BundleSetting, archive: Buffer, options: ContentOptions): Promise<BundleContent | DeltaContent> {
  const name = `bundle ${setting.name}`;
  // OPA bounds each file by size_limit_bytes; meshwarden bounds their sum by it too, so one limit caps the memory held.
  const files = readBundleArchive(name, archive, { fileLimitBytes: setting.sizeLimitBytes, totalLimitBytes: setting.sizeLimitBytes });
  const delta = readDelta(name, setting, files);
  if (delta !== undefined) return delta;
  if (setting.signing !== undefined) await verifyBundleSignatures(name, files, setting.signing);
  const manifest = readManifest(name, files);
  const hasWasm = hasWasmModule(manifest, files);
  let policyFiles: PolicyFiles | undefined;
  if (isRegoSourceBundle(files, hasWasm)) {
    // Verified above as it was signed; what opa compiles from it is checked like any wasm bundle.
    const compiled = await compileRegoBundle(name, files, entrypointsOf(files, options.decision, options.optionalEntrypoints ?? []), options.opa);
    policyFiles = policyFilesOfBundle(name, readBundleArchive(`${name} (compiled)`, compiled));
  } else if (hasWasm) {
    policyFiles = policyFilesOfBundle(name, files);
  }
  const roots = rootsOf(manifest.roots);
  const data = JSON.parse(policyFiles?.dataJson ?? bundleDataJson(name, files)) as Record<string, unknown>;
  const outside = pathsOutsideRoots(data, roots);
  if (outside.length > 0) throw new ConfigError([`${name}: data outside the manifest's roots (${(manifest.roots ?? []).join(', ')}): ${outside.slice(0, 5).join(', ')}`]);
  return Object.freeze({ kind: 'snapshot', name: setting.name, revision: manifest.revision ?? '', roots, wasmResolvers: wasmResolversOf(manifest.wasm), data, ...(policyFiles === undefined ? {} : { policyFiles }) });
}

/** Roots as segments, OPA's default (one empty root: everything) without any. */
function rootsOf(roots: readonly string[] | undefined): (readonly string[])[] {
  return (roots ?? ['']).map((root) => root.split('/').filter((segment) => segment !== ''));
}

function wasmResolversOf(wasm: Manifest['wasm']): string {
  return JSON.stringify((wasm ?? []).map((entry) => ({ entrypoint: entry.entrypoint ?? '', module: entry.module ?? '' })));
}

/**
 * OPA's delta bundle: a patch.json whose `data` has operations (one without any is a snapshot, as OPA reads
 * it). Refused as OPA refuses it: beside data, policy or wasm files; with persist (OPA cannot persist a delta);
 * a patch outside the manifest's roots. meshwarden also refuses one where signing is configured: OPA skips the
 * signature check for deltas, so a delta would be the one way round the verification.
 */
function readDelta(name: string, setting: BundleSetting, files: ReadonlyMap<string, Buffer>): DeltaContent | undefined {
  const patchFiles = [...files.keys()].filter((path) => path.endsWith('/patch.json'));
  if (patchFiles.length === 0) return undefined;
  if (patchFiles.length > 1) throw new ConfigError([`${name}: more than one patch.json (${patchFiles.join(', ')})`]);
  const operations = readPatch(name, files.get(patchFiles[0]!)!);
  if (operations.length === 0) return undefined;
  const problems: string[] = [];
  const paths = [...files.keys()];
  if (paths.some((path) => /\/data\.(json|ya?ml)$/.test(path))) problems.push('delta bundle expected to contain only patch file but data files found');
  if (paths.some((path) => path.endsWith('.rego'))) problems.push('delta bundle expected to contain only patch file but policy files found');
  if (paths.some((path) => path.endsWith('/policy.wasm'))) problems.push('delta bundle expected to contain only patch file but wasm files found');
  if (setting.persist) problems.push("'persist' property is true in config. persisting delta bundle to disk is not supported (as OPA)");
  if (setting.signing !== undefined) problems.push('a delta bundle carries no verified signature, and signing is configured for this bundle: only signed snapshot bundles are taken');
  if (problems.length > 0) throw new ConfigError(problems.map((problem) => `${name}: ${problem}`));
  const manifest = readManifest(name, files);
  const roots = rootsOf(manifest.roots);
  const outside = operations.filter((operation) => !roots.some((root) => root.length <= operation.segments.length && root.every((segment, index) => operation.segments[index] === segment)));
  if (outside.length > 0) throw new ConfigError([`${name}: manifest roots ${JSON.stringify(manifest.roots ?? [''])} do not permit data patch at path ${outside.map((operation) => `'${operation.path}'`).join(', ')}`]);
  return Object.freeze({ kind: 'delta', name: setting.name, revision: manifest.revision ?? '', roots, wasmResolvers: wasmResolversOf(manifest.wasm), operations });
}

/** The data paths (`a/b`) that no root covers, as OPA refuses them. */
export function pathsOutsideRoots(data: Record<string, unknown>, roots: readonly (readonly string[])[], prefix: string[] = []): string[] {
  const outside: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    const path = [...prefix, key];
    if (roots.some((root) => root.length <= path.length && root.every((segment, index) => path[index] === segment))) continue;
    const under = roots.some((root) => root.length > path.length && path.every((segment, index) => root[index] === segment));
    if (under && typeof value === 'object' && value !== null && !Array.isArray(value)) outside.push(...pathsOutsideRoots(value as Record<string, unknown>, roots, path));
    else outside.push(path.join('/'));
  }
  return outside;
}
