// A downloaded (or persisted) bundle archive → a checked policy, ready to swap in: size limits, signatures,
// manifest, wasm module, entrypoint, data. Any problem is a ConfigError naming the bundle; nothing is swapped.
import { instantiatePolicy, type Policy } from '../check/policy.js';
import { policyFilesOfBundle, readBundleArchive, readManifest } from '../check/bundle.js';
import type { BundleSetting } from './config-file.js';
import { compileRegoBundle, entrypointsOf, isRegoSourceBundle } from './rego-compile.js';
import { verifyBundleSignatures } from './signatures.js';

export interface ActivatedBundle {
  readonly policy: Policy;
  /** The manifest's revision ('' without one): what OPA's status reports. */
  readonly revision: string;
}

export interface ActivationOptions {
  /** The decision path: an entrypoint the wasm module must have. */
  decision: string;
  /** Entrypoints compiled into a Rego-source bundle's module when it defines them (the decision log's mask and drop). */
  optionalEntrypoints?: readonly string[];
  /** The opa that compiles Rego-source bundles (default: opa on PATH). */
  opa?: string;
}

/** Reads, verifies and compiles `archive` into a fresh wasm instance deciding `options.decision`. */
export async function activateBundle(setting: BundleSetting, archive: Buffer, options: ActivationOptions, source: string): Promise<ActivatedBundle> {
  const name = `bundle ${setting.name}`;
  // OPA bounds each file by size_limit_bytes; meshwarden bounds their sum by it too, so one limit caps the memory held.
  const files = readBundleArchive(name, archive, { fileLimitBytes: setting.sizeLimitBytes, totalLimitBytes: setting.sizeLimitBytes });
  if (setting.signing !== undefined) await verifyBundleSignatures(name, files, setting.signing);
  const manifest = readManifest(name, files);
  const hasWasm = (manifest.wasm ?? []).length > 0 || files.has('/policy.wasm');
  let policyFiles = files;
  if (isRegoSourceBundle(files, hasWasm)) {
    // Verified above as it was signed; what opa compiles from it is ours, checked like any wasm bundle below.
    const compiled = await compileRegoBundle(name, archive, entrypointsOf(files, options.decision, options.optionalEntrypoints ?? []), options.opa);
    policyFiles = readBundleArchive(`${name} (compiled)`, compiled);
  }
  const policy = await instantiatePolicy({ path: source, decision: options.decision }, policyFilesOfBundle(name, policyFiles));
  return Object.freeze({ policy, revision: manifest.revision ?? '' });
}
