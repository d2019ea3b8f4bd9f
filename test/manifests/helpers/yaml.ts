// Multi-document YAML loading for the manifests, strict: syntax errors, duplicate keys and YAML 1.1/1.2
// ambiguities (`on`, `yes`, `0755`, sexagesimal `1:30`...) all fail the load.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface YamlDocument {
  /** Repository-relative file name and document index, for messages. */
  where: string;
  value: unknown;
}

/** Parses every non-empty document of a YAML text. */
export function parseYamlDocuments(text: string, name = '(text)'): YamlDocument[] {
  const modern = parseAll(text, '1.2', name);
  // Kubernetes and Istio read YAML with Go libraries that follow YAML 1.1 for scalars: a value must
  // mean the same thing under both versions, or the cluster would see something else than we test.
  const legacy = parseAll(text, '1.1', name);
  modern.forEach((doc, index) => {
    if (!isDeepStrictEqual(doc, legacy[index])) {
      throw new Error(`${name} document ${index}: reads differently under YAML 1.1 and 1.2 (quote ambiguous scalars)`);
    }
  });
  return modern
    .map((value, index) => ({ where: `${name}#${index}`, value }))
    .filter((doc) => doc.value !== null && doc.value !== undefined);
}

function parseAll(text: string, version: '1.1' | '1.2', name: string): unknown[] {
  const docs = parseAllDocuments(text, { version, uniqueKeys: true, prettyErrors: true });
  if (!Array.isArray(docs)) throw new Error(`${name}: not a YAML stream`);
  return docs.map((doc, index) => {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) {
      throw new Error(`${name} document ${index} (YAML ${version}): ${problems.map((p) => p.message).join('; ')}`);
    }
    return doc.toJS({ maxAliasCount: 0 });
  });
}

/** Reads a repository file (path relative to the repository root) as YAML documents. */
export function loadYamlFile(repoPath: string): YamlDocument[] {
  const absolute = join(REPO_ROOT, repoPath);
  return parseYamlDocuments(readFileSync(absolute, 'utf8'), relative(REPO_ROOT, absolute));
}

export function readRepoFile(repoPath: string): string {
  return readFileSync(join(REPO_ROOT, repoPath), 'utf8');
}

/** A deep copy that tests may mutate. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
