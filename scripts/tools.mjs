#!/usr/bin/env node
// Installs the pinned Go tools (opa, grpcurl, ghz) into .tools/bin with `go install`, unless the same
// version is already there or on PATH. Prints nothing when everything is in place.
// Usage: node scripts/tools.mjs [opa|grpcurl|ghz ...]   (no names = all)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
export const TOOLS_BIN = join(root, '.tools', 'bin');

export const TOOLS = {
  opa: { module: 'github.com/open-policy-agent/opa', path: 'github.com/open-policy-agent/opa', version: 'v1.22.2' },
  grpcurl: { module: 'github.com/fullstorydev/grpcurl', path: 'github.com/fullstorydev/grpcurl/cmd/grpcurl', version: 'v1.9.4' },
  ghz: { module: 'github.com/bojand/ghz', path: 'github.com/bojand/ghz/cmd/ghz', version: 'v0.120.0' },
};

/** `go version -m` reads the module version a Go binary was built from. */
function versionMatches(binary, tool) {
  const run = spawnSync('go', ['version', '-m', binary], { encoding: 'utf8' });
  return run.status === 0 && run.stdout.split('\n').some((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[0] === 'mod' && fields[1] === tool.module && fields[2] === tool.version;
  });
}

function onPath(name) {
  const run = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

/** Path of a pinned tool, installing it first if needed. */
export function ensureTool(name) {
  const tool = TOOLS[name];
  if (!tool) throw new Error(`unknown tool ${name}`);
  const local = join(TOOLS_BIN, name);
  if (existsSync(local) && versionMatches(local, tool)) return local;
  const fromPath = onPath(name);
  if (fromPath && versionMatches(fromPath, tool)) return fromPath;
  mkdirSync(TOOLS_BIN, { recursive: true });
  process.stderr.write(`installing ${name} ${tool.version} with go install (once)...\n`);
  execFileSync('go', ['install', `${tool.path}@${tool.version}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOBIN: TOOLS_BIN, GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' },
  });
  if (!versionMatches(local, tool)) throw new Error(`${local} does not report version ${tool.version}`);
  return local;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2);
  for (const name of names.length > 0 ? names : Object.keys(TOOLS)) ensureTool(name);
}
