// A downloaded (or persisted) bundle archive → its checked content: size limits, signatures, manifest, the
// wasm module (compiled first when the bundle is Rego source), its data within its roots. Any problem is a
// ConfigError naming the bundle. bundle-set.ts puts the bundles together into the policy.
import { bundleDataJson, hasWasmModule, policyFilesOfBundle, readBundleArchive, readManifest, type PolicyFiles } from '../check/bundle.js';
import { ConfigError } from '../errors.js';
import type { BundleSetting } from './config-file.js';
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
  readonly name: string;
  /** The manifest's revision ('' without one): what OPA's status reports. */
  readonly revision: string;
  /** The manifest's roots as paths of segments; [[]] (everything) without roots, as OPA. */
  readonly roots: readonly (readonly string[])[];
  /** The bundle's data document. */
  readonly data: Record<string, unknown>;
  /** The wasm module and data, when the bundle carries a policy (a data-only bundle does not). */
  readonly policyFiles?: PolicyFiles;
}

/** Reads, verifies and (for Rego source) compiles `archive`. */
export async function readBundleContent(setting: BundleSetting, archive: Buffer, options: ContentOptions): Promise<BundleContent> {
  const name = `bundle ${setting.name}`;
  // OPA bounds each file by size_limit_bytes; meshwarden bounds their sum by it too, so one limit caps the memory held.
  const files = readBundleArchive(name, archive, { fileLimitBytes: setting.sizeLimitBytes, totalLimitBytes: setting.sizeLimitBytes });
  if (setting.signing !== undefined) await verifyBundleSignatures(name, files, setting.signing);
  const manifest = readManifest(name, files);
  const hasWasm = hasWasmModule(manifest, files);
  let policyFiles: PolicyFiles | undefined;
  if (isRegoSourceBundle(files, hasWasm)) {
    // Verified above as it was signed; what opa compiles from it is checked like any wasm bundle.
    const compiled = await compileRegoBundle(name, archive, entrypointsOf(files, options.decision, options.optionalEntrypoints ?? []), options.opa);
    policyFiles = policyFilesOfBundle(name, readBundleArchive(`${name} (compiled)`, compiled));
  } else if (hasWasm) {
    policyFiles = policyFilesOfBundle(name, files);
  }
  const roots = (manifest.roots ?? ['']).map((root) => root.split('/').filter((segment) => segment !== ''));
  const data = JSON.parse(policyFiles?.dataJson ?? bundleDataJson(name, files)) as Record<string, unknown>;
  const outside = pathsOutsideRoots(data, roots);
  if (outside.length > 0) throw new ConfigError([`${name}: data outside the manifest's roots (${(manifest.roots ?? []).join(', ')}): ${outside.slice(0, 5).join(', ')}`]);
  return Object.freeze({ name: setting.name, revision: manifest.revision ?? '', roots, data, ...(policyFiles === undefined ? {} : { policyFiles }) });
}

/** The data paths (`a/b`) that no root covers, as OPA refuses them. */
function pathsOutsideRoots(data: Record<string, unknown>, roots: readonly (readonly string[])[], prefix: string[] = []): string[] {
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
