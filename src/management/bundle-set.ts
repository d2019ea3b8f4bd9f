// The config file's bundles put together as OPA puts them: their roots must not overlap, one of them carries
// the policy (a wasm module, or Rego source compiled to one) and the others data; the policy is instantiated
// with every bundle's data. A new bundle replaces its old one only if the whole set still makes a policy. A delta
// bundle is applied onto its bundle's content in force (same roots and wasm resolvers, as OPA requires) and the
// result is checked like a snapshot; if anything fails, the content in force stays as it was.
import { revisionOf } from '../check/bundle.js';
import { instantiatePolicy, type Policy } from '../check/policy.js';
import { ConfigError } from '../errors.js';
import { pathsOutsideRoots, readBundleContent, type BundleContent, type ContentOptions, type DeltaContent } from './bundle-activation.js';
import { applyPatch } from './delta-patch.js';
import type { BundleSetting } from './config-file.js';

export interface ActivatedBundle {
  /** A delta is not persisted (OPA persists snapshots only). */
  readonly kind: 'snapshot' | 'delta';
  /** The manifest's revision ('' without one). */
  readonly revision: string;
  /** The policy made of the whole set, once every bundle is there. */
  readonly policy?: Policy;
  /** What that policy was instantiated from, so other processes (workers) can instantiate the same one. */
  readonly policyFiles?: { readonly source: string; readonly decision: string; readonly wasm: Buffer; readonly dataJson: string; readonly revision: string };
}

export interface BundleSet {
  /** Checks `archive` as the next content of `setting`'s bundle, and the set with it; throws a ConfigError if either fails. */
  activate(setting: BundleSetting, archive: Buffer, source: string): Promise<ActivatedBundle>;
}

export function createBundleSet(names: readonly string[], options: ContentOptions): BundleSet {
  let contents = new Map<string, BundleContent>();
  let policySource = '';
  // One activation at a time: each builds on the set the previous one left.
  let chain: Promise<unknown> = Promise.resolve();

  const activateNow = async (setting: BundleSetting, archive: Buffer, source: string): Promise<ActivatedBundle> => {
    const read = await readBundleContent(setting, archive, options);
    const content = read.kind === 'delta' ? applyDelta(setting.name, setting.sizeLimitBytes, contents.get(setting.name), read) : read;
    const candidate = new Map(contents);
    candidate.set(setting.name, content);
    const problems = setProblems(candidate);
    if (problems.length > 0) throw new ConfigError(problems.map((problem) => `bundle ${setting.name}: ${problem}`));
    const policyBundle = [...candidate.values()].find((entry) => entry.policyFiles !== undefined);
    const sourceOfPolicy = policyBundle === content ? source : policySource;
    if (names.some((name) => !candidate.has(name))) {
      // Not every bundle is there yet: nothing to decide with, but this one is checked and kept.
      contents = candidate;
      if (policyBundle === content) policySource = source;
      return { kind: read.kind, revision: content.revision };
    }
    if (policyBundle === undefined) throw new ConfigError([`bundle ${setting.name}: no bundle carries a policy (policy.wasm, or .rego files to compile)`]);
    const dataJson = JSON.stringify(mergeData([...candidate.values()].map((entry) => entry.data)));
    const wasm = policyBundle.policyFiles!.wasm;
    const revision = revisionOf(wasm, dataJson);
    const policy = await instantiatePolicy({ path: sourceOfPolicy, decision: options.decision }, { wasm, dataJson, revision });
    contents = candidate;
    policySource = sourceOfPolicy;
    return { kind: read.kind, revision: content.revision, policy, policyFiles: { source: sourceOfPolicy, decision: options.decision, wasm, dataJson, revision } };
  };

  return {
    activate(setting, archive, source) {
      const next = chain.then(() => activateNow(setting, archive, source));
      chain = next.catch(() => undefined);
      return next;
    },
  };
}

/**
 * The content a delta makes of the one in force: its data patched, its policy kept, the delta's revision. As OPA,
 * a delta onto nothing yet patches an empty document, and one onto a bundle in force must have its roots and wasm.
 */
function applyDelta(name: string, sizeLimitBytes: number, current: BundleContent | undefined, delta: DeltaContent): BundleContent {
  const where = `bundle ${name}`;
  const rootsKey = (roots: readonly (readonly string[])[]): string => JSON.stringify(roots.map((root) => root.join('/')).sort());
  if (current !== undefined && (rootsKey(current.roots) !== rootsKey(delta.roots) || current.wasmResolvers !== delta.wasmResolvers)) {
    throw new ConfigError([
      `${where}: delta bundle has wasm resolvers or manifest roots that are different from those of the bundle in force (roots ${rootsKey(delta.roots)}, in force ${rootsKey(current.roots)})`,
    ]);
  }
  const data = applyPatch(where, current?.data ?? {}, delta.operations);
  const outside = pathsOutsideRoots(data, delta.roots);
  if (outside.length > 0) throw new ConfigError([`${where}: the delta leaves data outside the manifest's roots: ${outside.slice(0, 5).join(', ')}`]);
  // A snapshot's data is bounded by size_limit_bytes (the archive is); deltas must not grow it past that either.
  const size = Buffer.byteLength(JSON.stringify(data));
  if (size > sizeLimitBytes) throw new ConfigError([`${where}: the data after the delta is ${size} bytes, more than the size limit of ${sizeLimitBytes}`]);
  return Object.freeze({
    kind: 'snapshot',
    name,
    revision: delta.revision,
    roots: current?.roots ?? delta.roots,
    wasmResolvers: delta.wasmResolvers,
    data,
    ...(current?.policyFiles === undefined ? {} : { policyFiles: current.policyFiles }),
  });
}

/** Overlapping roots and a second policy: the set OPA would refuse. */
function setProblems(set: ReadonlyMap<string, BundleContent>): string[] {
  const problems: string[] = [];
  const entries = [...set.values()];
  for (let first = 0; first < entries.length; first++) {
    for (let second = first + 1; second < entries.length; second++) {
      const a = entries[first]!;
      const b = entries[second]!;
      for (const rootA of a.roots) {
        for (const rootB of b.roots) {
          const shorter = rootA.length <= rootB.length ? rootA : rootB;
          const longer = shorter === rootA ? rootB : rootA;
          if (shorter.every((segment, index) => longer[index] === segment)) {
            problems.push(`its roots overlap: "${rootA.join('/')}" of ${a.name} and "${rootB.join('/')}" of ${b.name} (give each bundle roots of its own in its .manifest)`);
          }
        }
      }
    }
  }
  const withPolicy = entries.filter((entry) => entry.policyFiles !== undefined).map((entry) => entry.name);
  if (withPolicy.length > 1) problems.push(`${withPolicy.join(' and ')} both carry a policy; meshwarden runs one wasm module (keep the Rego in one bundle, data in the others)`);
  return problems;
}

/** The bundles' data in one document (copied, so the bundles' own stay as read); disjoint roots mean no two write the same place. */
function mergeData(documents: readonly Record<string, unknown>[]): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const document of documents) mergeInto(merged, document);
  return merged;
}

function mergeInto(target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (isObject(existing) && isObject(value)) mergeInto(existing, value);
    else target[key] = isObject(value) ? mergeInto({}, value) : value;
  }
  return target;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
