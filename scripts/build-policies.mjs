#!/usr/bin/env node
// Compiles the Rego policies to wasm bundles with the pinned opa.
//   node scripts/build-policies.mjs          build policies/build/*.tar.gz
//   node scripts/build-policies.mjs --check  run `opa test`, rebuild into a temp dir and fail if the
//                                            committed bundles differ from their sources
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTool } from './tools.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** Each compiled policy: its Rego folder (tests beside it are left out of the bundle) and entrypoint(s). */
export const POLICIES = [
  // explain: every rule of the destination and why it matched or not, for `meshwarden rules explain`.
  { name: 'rules', dir: 'policies/rules', entrypoints: ['meshwarden/rules/decision', 'meshwarden/rules/explain'] },
];

/**
 * `opa test` over policies/, for this script's --check and the image build alike. Left out: the compiled
 * bundles under policies/build (loaded together, their manifests conflict) and the default rules file, which
 * opa would load as data (meshwarden compiles it; no Rego reads it).
 */
export const OPA_TEST_ARGS = ['test', 'policies', '--ignore', '*.tar.gz', '--ignore', 'rules.yaml'];

/** The Rego files of a policy folder that go into its bundle (tests stay out). */
export function sources(dir) {
  return readdirSync(join(root, dir))
    .filter((file) => file.endsWith('.rego') && !file.endsWith('_test.rego'))
    .sort()
    .map((file) => `${dir}/${file}`);
}

/** Compiles one policy into outDir/<name>.tar.gz with the given opa; returns the bundle's path. */
export function build(opa, policy, outDir) {
  const out = join(outDir, `${policy.name}.tar.gz`);
  const entrypoints = policy.entrypoints.flatMap((entrypoint) => ['-e', entrypoint]);
  execFileSync(opa, ['build', '-t', 'wasm', ...entrypoints, '-o', out, ...sources(policy.dir)], { cwd: root, stdio: 'inherit' });
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const opa = ensureTool('opa');
  if (check) {
    // Rego as `opa fmt` writes it, and strict compile checks (unused variables, imports, deprecated builtins).
    execFileSync(opa, ['fmt', '--list', '--fail', ...POLICIES.map((policy) => policy.dir)], { cwd: root, stdio: 'inherit' });
    execFileSync(opa, ['check', '--strict', ...POLICIES.map((policy) => policy.dir)], { cwd: root, stdio: 'inherit' });
    execFileSync(opa, OPA_TEST_ARGS, { cwd: root, stdio: 'inherit' });
    const temp = mkdtempSync(join(tmpdir(), 'meshwarden-policies-'));
    let stale = 0;
    for (const policy of POLICIES) {
      const fresh = readFileSync(build(opa, policy, temp));
      const committedPath = join(root, 'policies', 'build', `${policy.name}.tar.gz`);
      let committed;
      try {
        committed = readFileSync(committedPath);
      } catch {
        committed = undefined;
      }
      if (!committed || !committed.equals(fresh)) {
        stale++;
        process.stderr.write(`${relative(root, committedPath)} does not match ${policy.dir}: run npm run build:policies and commit it\n`);
      }
    }
    rmSync(temp, { recursive: true, force: true });
    if (stale > 0) process.exit(1);
    process.stdout.write(`policies: opa test passed; ${POLICIES.length} compiled bundle(s) match their sources\n`);
  } else {
    mkdirSync(join(root, 'policies', 'build'), { recursive: true });
    for (const policy of POLICIES) process.stdout.write(`built ${relative(root, build(opa, policy, join(root, 'policies', 'build')))}\n`);
  }
}
