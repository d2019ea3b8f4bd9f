// A Rego-source bundle (what opa-envoy-plugin users ship: .rego files and data, no policy.wasm) compiled to
// wasm on load by the opa on PATH (the container image carries the pinned one): `opa build -t wasm` with the
// decision path, and the decision log's mask and drop rules when the bundle defines them, as entrypoints.
// opa runs as a child process, bounded in time and output, so a reload never blocks the Check path.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from '../errors.js';

const COMPILE_TIMEOUT_MS = 120_000;

/** Whether the bundle's files are Rego source without a wasm module. */
export function isRegoSourceBundle(files: ReadonlyMap<string, Buffer>, hasWasm: boolean): boolean {
  return !hasWasm && [...files.keys()].some((path) => path.endsWith('.rego'));
}

/**
 * The entrypoints to compile: the decision, and system/log/mask and system/log/drop (or the configured
 * paths) when a module of the bundle defines them. `opa build` refuses an entrypoint that is no rule, so
 * only rules that appear in the source are asked for (a rule head at the start of a line of its package).
 */
export function entrypointsOf(files: ReadonlyMap<string, Buffer>, decision: string, optional: readonly string[]): string[] {
  const entrypoints = [decision];
  for (const path of optional) {
    const packageName = path.split('/').slice(0, -1).join('.');
    const rule = path.split('/').at(-1)!;
    const defined = [...files].some(([name, content]) => {
      if (!name.endsWith('.rego')) return false;
      const text = content.toString('utf8');
      return new RegExp(`^package\\s+(data\\.)?${packageName.replace(/\./g, '\\.')}\\s*$`, 'm').test(text) && new RegExp(`^(default\\s+)?${rule}\\b`, 'm').test(text);
    });
    if (defined && !entrypoints.includes(path)) entrypoints.push(path);
  }
  return entrypoints;
}

/**
 * Compiles the bundle's files with `opa build -t wasm -b <dir>`; the compiled bundle's bytes, or a ConfigError
 * with opa's message. The files are written out without `.signatures.json`: meshwarden has verified it already
 * (where signing is configured), and opa build refuses a signed bundle without the verification key.
 */
export async function compileRegoBundle(name: string, files: ReadonlyMap<string, Buffer>, entrypoints: readonly string[], opa = 'opa'): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'meshwarden-rego-'));
  try {
    const root = join(dir, 'bundle');
    mkdirSync(root);
    for (const [path, content] of files) {
      if (path === '/.signatures.json') continue;
      const segments = path.split('/').filter((segment) => segment !== '');
      // The archive's own names: a name that would climb out of the directory is no bundle file.
      if (segments.length === 0 || segments.some((segment) => segment === '..' || segment === '.')) throw new ConfigError([`${name}: bad bundle archive: the file name ${JSON.stringify(path)}`]);
      const target = join(root, ...segments);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, content);
    }
    const args = ['build', '-t', 'wasm', ...entrypoints.flatMap((entrypoint) => ['-e', entrypoint]), '-b', 'bundle', '-o', 'compiled.tar.gz'];
    await new Promise<void>((resolve, reject) => {
      execFile(opa, args, { cwd: dir, timeout: COMPILE_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => {
        if (error === null) {
          resolve();
          return;
        }
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new ConfigError([`${name}: a Rego-source bundle (no policy.wasm) is compiled with opa, and there is no opa on PATH; put the pinned opa on PATH or serve a bundle built with opa build -t wasm -e ${entrypoints[0]}`]));
          return;
        }
        const message = stderr.trim().split('\n').slice(0, 20).join('\n') || error.message;
        reject(new ConfigError([`${name}: opa build -t wasm failed (a builtin that wasm does not provide, or a Rego error): ${message}`]));
      });
    });
    return readFileSync(join(dir, 'compiled.tar.gz'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
