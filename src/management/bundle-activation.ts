// A downloaded (or persisted) bundle archive → a checked policy, ready to swap in: size limits, signatures,
// manifest, wasm module, entrypoint, data. Any problem is a ConfigError naming the bundle; nothing is swapped.
import { instantiatePolicy, type Policy } from '../check/policy.js';
import { policyFilesOfBundle, readBundleArchive, readManifest } from '../check/bundle.js';
import type { BundleSetting } from './config-file.js';
import { verifyBundleSignatures } from './signatures.js';

export interface ActivatedBundle {
  readonly policy: Policy;
  /** The manifest's revision ('' without one): what OPA's status reports. */
  readonly revision: string;
}

/** Reads, verifies and compiles `archive` into a fresh wasm instance deciding `decision`. */
export async function activateBundle(setting: BundleSetting, archive: Buffer, decision: string, source: string): Promise<ActivatedBundle> {
  const name = `bundle ${setting.name}`;
  // OPA bounds each file by size_limit_bytes; meshwarden bounds their sum by it too, so one limit caps the memory held.
  const files = readBundleArchive(name, archive, { fileLimitBytes: setting.sizeLimitBytes, totalLimitBytes: setting.sizeLimitBytes });
  if (setting.signing !== undefined) await verifyBundleSignatures(name, files, setting.signing);
  const manifest = readManifest(name, files);
  const policy = await instantiatePolicy({ path: source, decision }, policyFilesOfBundle(name, files));
  return Object.freeze({ policy, revision: manifest.revision ?? '' });
}
