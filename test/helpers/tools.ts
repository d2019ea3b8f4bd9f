// Paths of the pinned Go tools that `npm test` installs (scripts/tools.mjs) into .tools/bin.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

export const ROOT = join(import.meta.dirname, '..', '..');

export function toolPath(name: 'opa' | 'grpcurl' | 'ghz'): string {
  const local = join(ROOT, '.tools', 'bin', name);
  if (!existsSync(local)) {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'tools.mjs'), name], { stdio: 'inherit' });
  }
  return local;
}
