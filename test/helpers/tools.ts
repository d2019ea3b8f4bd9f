// Paths of the pinned Go tools that `npm test` installs (scripts/tools.mjs) into .tools/bin.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

export const ROOT = join(import.meta.dirname, '..', '..');

/** Where scripts/tools.mjs installs (TOOLS_BIN_DIR overrides it, as there). */
export const TOOLS_BIN = process.env['TOOLS_BIN_DIR'] ?? join(ROOT, '.tools', 'bin');

export function toolPath(name: 'opa' | 'grpcurl' | 'ghz' | 'jaeger'): string {
  const local = join(TOOLS_BIN, name);
  if (!existsSync(local)) {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'tools.mjs'), name], { stdio: 'inherit' });
  }
  return local;
}
