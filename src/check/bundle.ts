// A policy's files: a bundle from `opa build -t wasm` (.tar.gz: the wasm module and its data.json files) or a
// bare policy.wasm with an optional data file.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Parser, type ReadEntry } from 'tar';
import { ConfigError, describeError } from '../errors.js';

export interface PolicySource {
  /** A bundle from `opa build -t wasm` (.tar.gz) or a bare policy.wasm. */
  path: string;
  /** JSON data for a bare .wasm (bundles carry their own data.json). */
  dataPath?: string;
  /** Decision path such as `envoy/authz/allow`; defaults to the policy's single entrypoint. */
  decision?: string;
}

export interface PolicyFiles {
  wasm: Buffer;
  dataJson: string;
  revision: string;
}

/** Reads a policy's wasm module and data; any problem is a ConfigError naming the file. */
export function readPolicyFiles(source: PolicySource): PolicyFiles {
  let content: Buffer;
  try {
    content = readFileSync(source.path);
  } catch (error) {
    throw new ConfigError([`${source.path}: cannot read policy: ${describeError(error)}`]);
  }
  const isGzip = content.length > 2 && content[0] === 0x1f && content[1] === 0x8b;
  const isWasm = content.length > 4 && content.readUInt32BE(0) === 0x0061736d;
  if (isGzip) {
    if (source.dataPath !== undefined) {
      throw new ConfigError([`${source.path}: a bundle carries its own data.json; --data is only for a bare .wasm`]);
    }
    return readBundle(source.path, content);
  }
  if (!isWasm) {
    throw new ConfigError([`${source.path}: neither a bundle (.tar.gz) nor a wasm module`]);
  }
  let dataJson = '{}';
  if (source.dataPath !== undefined) {
    try {
      dataJson = readFileSync(source.dataPath, 'utf8');
      JSON.parse(dataJson);
    } catch (error) {
      throw new ConfigError([`${source.dataPath}: data file is not readable JSON: ${describeError(error)}`]);
    }
  }
  return { wasm: content, dataJson, revision: revisionOf(content, dataJson) };
}

export function revisionOf(wasm: Buffer, dataJson: string): string {
  return createHash('sha256').update(wasm).update(dataJson).digest('hex').slice(0, 16);
}

/** What a bundle's .manifest may say (OPA's format); meshwarden reads the revision, the roots and the wasm modules. */
export interface Manifest {
  revision?: string;
  roots?: string[];
  wasm?: { entrypoint?: string; module?: string }[];
  metadata?: Record<string, unknown>;
}

export interface ArchiveLimits {
  /** Bytes any one file may hold once unpacked (OPA's size_limit_bytes, which guards against gzip bombs). */
  fileLimitBytes: number;
  /** Bytes all files together may hold once unpacked. */
  totalLimitBytes: number;
}

const NO_LIMITS: ArchiveLimits = { fileLimitBytes: Number.MAX_SAFE_INTEGER, totalLimitBytes: Number.MAX_SAFE_INTEGER };

/** The files of a bundle archive (.tar.gz) by their path from the root (`/policy.wasm`); a ConfigError naming `name` if it is bad. */
export function readBundleArchive(name: string, content: Buffer, limits: ArchiveLimits = NO_LIMITS): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const problems: string[] = [];
  let total = 0;
  const parser = new Parser({
    strict: true,
    onReadEntry(entry: ReadEntry) {
      if (entry.type !== 'File' && entry.type !== 'OldFile') {
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      entry.on('data', (chunk: Buffer) => {
        if (over) return;
        size += chunk.length;
        total += chunk.length;
        if (size > limits.fileLimitBytes || total > limits.totalLimitBytes) {
          over = true;
          problems.push(size > limits.fileLimitBytes ? `${entry.path}: larger than the size limit of ${limits.fileLimitBytes} bytes` : `the files together are larger than the size limit of ${limits.totalLimitBytes} bytes`);
          return;
        }
        chunks.push(chunk);
      });
      entry.on('end', () => {
        // `tar -C dir .` writes ./data.json: the same file as /data.json (OPA cleans the paths too).
        if (!over) files.set('/' + entry.path.replace(/^(\.?\/)+/, ''), Buffer.concat(chunks));
      });
    },
  });
  parser.on('warn', (_code: string, message: string) => problems.push(message));
  parser.on('error', (error: Error) => problems.push(error.message));
  try {
    parser.end(content);
  } catch (error) {
    problems.push(describeError(error));
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)].map((problem) => `${name}: bad bundle archive: ${problem}`));
  return files;
}

/** The .manifest of a bundle's files ({} without one); a ConfigError when it is not OPA's format. */
export function readManifest(name: string, files: ReadonlyMap<string, Buffer>): Manifest {
  const text = files.get('/.manifest');
  if (text === undefined) return {};
  let manifest: unknown;
  try {
    manifest = JSON.parse(text.toString('utf8'));
  } catch (error) {
    throw new ConfigError([`${name}: .manifest is not JSON: ${describeError(error)}`]);
  }
  const problems: string[] = [];
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new ConfigError([`${name}: .manifest must hold an object`]);
  const { revision, roots, wasm } = manifest as Record<string, unknown>;
  if (revision !== undefined && typeof revision !== 'string') problems.push('revision must be a string');
  if (roots !== undefined && !(Array.isArray(roots) && roots.every((root) => typeof root === 'string'))) problems.push('roots must be a list of strings');
  if (wasm !== undefined && !(Array.isArray(wasm) && wasm.every((entry) => typeof entry === 'object' && entry !== null))) problems.push('wasm must be a list of {entrypoint, module}');
  if (problems.length > 0) throw new ConfigError(problems.map((problem) => `${name}: .manifest: ${problem}`));
  return manifest as Manifest;
}

function readBundle(path: string, content: Buffer): PolicyFiles {
  return policyFilesOfBundle(path, readBundleArchive(path, content));
}

/** The wasm module and the merged data of a bundle's files. */
export function policyFilesOfBundle(path: string, files: ReadonlyMap<string, Buffer>): PolicyFiles {
  const manifest = readManifest(path, files);
  const modules = [...new Set((manifest.wasm ?? []).map((entry) => entry.module ?? '/policy.wasm'))];
  if (modules.length > 1) {
    throw new ConfigError([`${path}: the bundle has ${modules.length} wasm modules; meshwarden loads one`]);
  }
  const modulePath = '/' + (modules[0] ?? '/policy.wasm').replace(/^\/+/, '');
  const wasm = files.get(modulePath);
  if (wasm === undefined) {
    throw new ConfigError([`${path}: no ${modulePath} in the bundle; build it with opa build -t wasm -e <decision>`]);
  }
  const dataJson = mergeBundleData(path, files);
  return { wasm, dataJson, revision: revisionOf(wasm, dataJson) };
}

/** Every data.json of a bundle, placed at its directory's path (as OPA does), as JSON text. */
export function bundleDataJson(path: string, files: ReadonlyMap<string, Buffer>): string {
  return mergeBundleData(path, files);
}

/** Whether a bundle's files carry a wasm module (the manifest lists one, or /policy.wasm is there). */
export function hasWasmModule(manifest: Manifest, files: ReadonlyMap<string, Buffer>): boolean {
  return (manifest.wasm ?? []).length > 0 || files.has('/policy.wasm');
}

function mergeBundleData(path: string, files: ReadonlyMap<string, Buffer>): string {
  const data: Record<string, unknown> = {};
  for (const [name, content] of files) {
    if (!name.endsWith('/data.json')) continue;
    let value: unknown;
    try {
      value = JSON.parse(content.toString('utf8'));
    } catch (error) {
      throw new ConfigError([`${path}: ${name} is not JSON: ${describeError(error)}`]);
    }
    const segments = name.split('/').slice(1, -1);
    let target = data;
    for (const segment of segments) {
      const next = target[segment];
      if (typeof next === 'object' && next !== null && !Array.isArray(next)) target = next as Record<string, unknown>;
      else target = target[segment] = {};
    }
    if (segments.length === 0 && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw new ConfigError([`${path}: /data.json must hold an object`]);
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) Object.assign(target, value);
    else throw new ConfigError([`${path}: ${name} must hold an object`]);
  }
  return JSON.stringify(data);
}
