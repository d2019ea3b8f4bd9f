// A delta bundle's patch.json, read and applied as OPA applies it (v1/bundle/store.go applyPatches on its
// in-memory store): `{"data": [{"op": "upsert"|"remove"|"replace", "path": "/a/b", "value": ...}]}`, the
// operations in order, each on the document the previous one left. The path is a JSON pointer, each segment
// URL-unescaped, then `~1` → `/` and `~0` → `~`. Pure: the caller's document is copied, never changed.
import { ConfigError } from '../errors.js';

export interface PatchOperation {
  readonly op: 'upsert' | 'remove' | 'replace';
  /** The path as written (for messages). */
  readonly path: string;
  /** The path's segments, unescaped; [] is the root. */
  readonly segments: readonly string[];
  readonly value: unknown;
}

/** patch.json's operations; a file that is not OPA's format, or an operation OPA would refuse, is a ConfigError. */
export function readPatch(name: string, text: Buffer): PatchOperation[] {
  let document: unknown;
  try {
    document = JSON.parse(text.toString('utf8'));
  } catch (error) {
    throw new ConfigError([`${name}: patch.json is not JSON: ${(error as Error).message}`]);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new ConfigError([`${name}: patch.json must hold an object with "data"`]);
  const data = (document as Record<string, unknown>)['data'];
  if (data === undefined || data === null) return [];
  if (!Array.isArray(data)) throw new ConfigError([`${name}: patch.json: "data" must be a list of operations`]);
  const problems: string[] = [];
  const operations: PatchOperation[] = [];
  data.forEach((entry: unknown, index) => {
    const where = `patch.json data[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${where}: must be an object with op and path`);
      return;
    }
    const { op, path, value } = entry as Record<string, unknown>;
    if (op !== 'upsert' && op !== 'remove' && op !== 'replace') {
      problems.push(`${where}: bad patch operation ${JSON.stringify(op ?? '')} (upsert, remove or replace)`);
      return;
    }
    if (typeof path !== 'string') {
      problems.push(`${where}: path must be a string`);
      return;
    }
    const segments = parsePatchPath(path);
    if (segments === undefined) {
      problems.push(`${where}: error parsing patch path "${path}"`);
      return;
    }
    // OPA's upsert of the root takes the parent of the root and fails; replace is how a delta sets the whole document.
    if (op === 'upsert' && segments.length === 0) {
      problems.push(`${where}: upsert of the root "${path}" (replace the root instead)`);
      return;
    }
    // A value OPA's Go decoder leaves out is nil: written as null.
    operations.push({ op, path, segments, value: value === undefined ? null : value });
  });
  if (problems.length > 0) throw new ConfigError(problems.map((problem) => `${name}: ${problem}`));
  return operations;
}

/** OPA's "/" + strings.Trim(path, "/"), split on "/", each segment URL-unescaped then JSON-pointer-unescaped. */
function parsePatchPath(path: string): string[] | undefined {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return [];
  const segments: string[] = [];
  for (const raw of trimmed.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    segments.push(segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  }
  return segments;
}

type Json = unknown;

/** The document after every operation, or a ConfigError naming the first that cannot apply (nothing is half applied). */
export function applyPatch(name: string, document: Readonly<Record<string, unknown>>, operations: readonly PatchOperation[]): Record<string, unknown> {
  let root: Json = structuredClone(document);
  operations.forEach((operation, index) => {
    const fail = (why: string): never => {
      throw new ConfigError([`${name}: patch.json data[${index}] (${operation.op} ${operation.path}): ${why}`]);
    };
    const { segments } = operation;
    if (segments.length === 0) {
      if (operation.op === 'remove') fail('the root cannot be removed');
      if (!isObject(operation.value)) fail('the root must be an object');
      root = structuredClone(operation.value);
      return;
    }
    if (operation.op === 'upsert') makeObjects(root, segments.slice(0, -1), fail);
    const parent = lookUp(root, segments.slice(0, -1));
    if (parent === undefined) fail('the path does not exist');
    const key = segments[segments.length - 1]!;
    if (Array.isArray(parent)) {
      if (operation.op === 'upsert' && (key === '-' || key === String(parent.length))) {
        parent.push(structuredClone(operation.value));
        return;
      }
      const position = arrayIndex(parent, key);
      if (position === undefined) fail(`"${key}" is not an index of the array there`);
      if (operation.op === 'upsert') parent.splice(position!, 0, structuredClone(operation.value));
      else if (operation.op === 'remove') parent.splice(position!, 1);
      else parent[position!] = structuredClone(operation.value);
      return;
    }
    if (!isObject(parent)) fail('the path does not exist');
    const object = parent as Record<string, unknown>;
    if (operation.op !== 'upsert' && !Object.hasOwn(object, key)) fail('the path does not exist');
    if (operation.op === 'remove') delete object[key];
    else setOwn(object, key, structuredClone(operation.value));
  });
  return root as Record<string, unknown>;
}

/** OPA's storage.MakeDir: every missing object on the way is created; an existing value that is not an object conflicts. */
function makeObjects(root: Json, segments: readonly string[], fail: (why: string) => never): void {
  let node = root;
  for (let depth = 0; depth < segments.length; depth++) {
    const key = segments[depth]!;
    if (Array.isArray(node)) {
      const position = arrayIndex(node, key);
      if (position === undefined) fail(`"${key}" is not an index of the array there`);
      node = node[position!];
      continue;
    }
    if (!isObject(node)) fail(`/${segments.slice(0, depth).join('/')} is not an object (a write conflict)`);
    const object = node as Record<string, unknown>;
    if (!Object.hasOwn(object, key)) setOwn(object, key, {});
    node = object[key];
    if (depth === segments.length - 1 && !isObject(node) && !Array.isArray(node)) fail(`/${segments.join('/')} is not an object (a write conflict)`);
  }
}

function lookUp(root: Json, segments: readonly string[]): Json | undefined {
  let node = root;
  for (const key of segments) {
    if (Array.isArray(node)) {
      const position = arrayIndex(node, key);
      if (position === undefined) return undefined;
      node = node[position];
    } else if (isObject(node) && Object.hasOwn(node, key)) node = (node as Record<string, unknown>)[key];
    else return undefined;
  }
  return node;
}

/** Go's strconv.Atoi of the segment, within the array (OPA's ValidateArrayIndex). */
function arrayIndex(array: readonly unknown[], key: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(key)) return undefined;
  const index = Number(key);
  return Number.isSafeInteger(index) && index >= 0 && index < array.length ? index : undefined;
}

/** An own property even for `__proto__` (plain assignment would set the object's prototype instead). */
function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
