#!/usr/bin/env node
// `npm start`'s build step: runs tsc only when a source is newer than what it compiled to (or tsconfig.json is),
// so a start with nothing changed begins serving at once. Prints nothing when the build is fresh.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The first source whose compiled file is missing or older than it (or than tsconfig.json), if any. */
export function staleSource() {
  const config = statSync(join(root, 'tsconfig.json')).mtimeMs;
  for (const source of sources(join(root, 'src'))) {
    const compiled = join(root, 'dist', relative(root, source).replace(/\.ts$/, '.js'));
    if (!existsSync(compiled)) return source;
    const built = statSync(compiled).mtimeMs;
    if (built < statSync(source).mtimeMs || built < config) return source;
  }
  return undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const stale = staleSource();
  if (stale !== undefined) {
    process.stderr.write(`building (${relative(root, stale)} changed)...\n`);
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  }
}
