// The manifests under istio/, loaded once, with lookups for the cross-reference tests.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isRecord } from './kubernetes.js';
import { loadYamlFile, parseYamlDocuments, readRepoFile, REPO_ROOT, type YamlDocument } from './yaml.js';

/** Files of Kubernetes objects (kubectl apply -f). */
export const OBJECT_FILES = [
  'istio/mesh-config.yaml',
  'istio/meshwarden.yaml',
  'istio/data-authz.yaml',
  'istio/admin-metrics.yaml',
  'istio/in-pod/mesh-config.yaml',
  'istio/in-pod/data.yaml',
  'istio/in-pod/service-entry.yaml',
  'istio/in-pod/data-authz.yaml',
  'istio/ambient/waypoint-peer-principal.yaml',
] as const;

/** Files that are patches, not objects. */
export const PATCH_FILES = ['istio/rules-patch.yaml', 'istio/shadow-patch.yaml'] as const;

export const GUIDE = 'istio/README.md';

/** Every .yaml file under istio/, so a new file cannot slip past the tests. */
export function yamlFilesOnDisk(): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(REPO_ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (/\.ya?ml$/.test(entry.name)) found.push(rel);
    }
  };
  walk('istio');
  return found.sort();
}

export type K8sObject = Record<string, any> & { apiVersion: string; kind: string; metadata: Record<string, any> };

export interface LoadedObject {
  file: string;
  where: string;
  object: K8sObject;
}

const cache = new Map<string, LoadedObject[]>();

export function objectsIn(file: string): LoadedObject[] {
  let loaded = cache.get(file);
  if (!loaded) {
    loaded = loadYamlFile(file).map((doc) => ({ file, where: doc.where, object: doc.value as K8sObject }));
    cache.set(file, loaded);
  }
  return loaded;
}

export function allObjects(): LoadedObject[] {
  return OBJECT_FILES.flatMap((file) => objectsIn(file));
}

/** The one object of a kind (and name) in a file; throws if there is not exactly one. */
export function the(file: string, kind: string, name?: string): K8sObject {
  const matches = objectsIn(file)
    .map((entry) => entry.object)
    .filter((object) => object.kind === kind && (name === undefined || object.metadata?.name === name));
  if (matches.length !== 1) throw new Error(`${file}: expected one ${kind}${name ? ` ${name}` : ''}, found ${matches.length}`);
  return matches[0]!;
}

/** The ```yaml blocks of a Markdown file, parsed. */
export function markdownYamlBlocks(file: string): YamlDocument[] {
  const text = readRepoFile(file);
  const blocks = [...text.matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)];
  return blocks.flatMap((block, index) => parseYamlDocuments(block[1]!, `${file} yaml block ${index}`));
}

/** Does a label selector (matchLabels/matchExpressions) select these labels? */
export function selects(selector: unknown, labels: Record<string, string> | undefined): boolean {
  if (!isRecord(selector)) return false;
  const have = labels ?? {};
  const matchLabels = (selector['matchLabels'] ?? {}) as Record<string, string>;
  const expressions = (selector['matchExpressions'] ?? []) as { key: string; operator: string; values?: string[] }[];
  if (Object.keys(matchLabels).length === 0 && expressions.length === 0) return true;
  for (const [key, value] of Object.entries(matchLabels)) if (have[key] !== value) return false;
  for (const { key, operator, values = [] } of expressions) {
    const present = Object.hasOwn(have, key);
    if (operator === 'In' && !(present && values.includes(have[key]!))) return false;
    if (operator === 'NotIn' && present && values.includes(have[key]!)) return false;
    if (operator === 'Exists' && !present) return false;
    if (operator === 'DoesNotExist' && present) return false;
  }
  return true;
}

/** A Service's plain `key: value` selector applied to labels. */
export function serviceSelects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

/** Lists merged by key in a strategic merge patch of a Deployment (the fields the patch uses). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
  volumes: 'name',
  ports: 'containerPort',
};

/**
 * Applies a strategic merge patch the way the API server does for these list types (merge by key) and
 * plain objects (recursive merge); other lists are replaced.
 */
export function strategicMerge(target: unknown, patch: unknown, field = ''): unknown {
  if (Array.isArray(patch)) {
    const key = MERGE_KEYS[field];
    if (!key || !Array.isArray(target)) return structuredClone(patch);
    const out = structuredClone(target) as Record<string, unknown>[];
    for (const item of patch as Record<string, unknown>[]) {
      const index = out.findIndex((existing) => existing[key] === item[key]);
      if (index === -1) out.push(structuredClone(item));
      else out[index] = strategicMerge(out[index], item) as Record<string, unknown>;
    }
    return out;
  }
  if (isRecord(patch)) {
    const out: Record<string, unknown> = isRecord(target) ? structuredClone(target) : {};
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key];
      else out[key] = strategicMerge(out[key], value, key);
    }
    return out;
  }
  return patch;
}
