// Where the embedded default policy lives, whether running from src/ (tests) or dist/src/ (built).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('meshwarden: package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

export const PACKAGE_ROOT = packageRoot();

/** The compiled default policy (policies/default, built by scripts/build-policies.mjs and committed). */
export const DEFAULT_POLICY_BUNDLE = join(PACKAGE_ROOT, 'policies', 'build', 'default.tar.gz');

/** The rules library (policies/rules), served with a rules file's compiled document as its data. */
export const RULES_POLICY_BUNDLE = join(PACKAGE_ROOT, 'policies', 'build', 'rules.tar.gz');

export const RULES_DECISION = 'meshwarden/rules/decision';
