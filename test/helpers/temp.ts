// Temporary directories the tests make, removed after each test file (test/setup/remove-temp-dirs.ts) so a run
// leaves nothing behind in the system's temp folder. The compiled-policy cache (helpers/policies.ts) is kept on
// purpose: it is keyed by content and saves an opa build per run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const created: string[] = [];

/** A fresh directory under the system's temp folder, named `<prefix>XXXXXX`, removed when the test file ends. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Removes every directory makeTempDir made so far. */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}
