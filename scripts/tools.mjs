#!/usr/bin/env node
// Installs the pinned Go tools (opa, grpcurl, ghz, registry, oras) into .tools/bin with `go install`, unless the same
// version is already there or on PATH, and builds the reference opa-envoy-plugin from ../shared (its own
// build script; the module proxy does not serve it), and Debian's nginx (the real HTTP server the bundle tests
// download from) with apt-get when it is absent. Prints nothing when everything is in place.
// Usage: node scripts/tools.mjs [opa|grpcurl|ghz|registry|oras|opa-envoy-plugin|nginx|istio-api ...]   (no names = all)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
// TOOLS_BIN_DIR puts the tools elsewhere (a checkout that shares its .tools/bin with another one). Not a
// MESHWARDEN_* name: serve refuses unknown variables of its own prefix, and the tests' servers inherit the env.
export const TOOLS_BIN = process.env.TOOLS_BIN_DIR ?? join(root, '.tools', 'bin');

export const TOOLS = {
  opa: { module: 'github.com/open-policy-agent/opa', path: 'github.com/open-policy-agent/opa', version: 'v1.22.2' },
  grpcurl: { module: 'github.com/fullstorydev/grpcurl', path: 'github.com/fullstorydev/grpcurl/cmd/grpcurl', version: 'v1.9.4' },
  ghz: { module: 'github.com/bojand/ghz', path: 'github.com/bojand/ghz/cmd/ghz', version: 'v0.120.0' },
  // Jaeger all-in-one: the OTLP collector the tracing tests read spans back from (installed on request only).
  // Its go.mod has replace directives, which `go install pkg@version` refuses: it is built inside its module instead.
  jaeger: { module: 'github.com/jaegertracing/jaeger', path: 'github.com/jaegertracing/jaeger/cmd/jaeger', version: 'v1.75.0', onRequest: true, buildInModule: './cmd/jaeger' },
  // go-containerregistry's in-memory OCI distribution registry and oras: the real registry the OCI bundle tests
  // (test/integration/bundle-oci.test.ts, test/conformance/oep-oci.test.ts) push OPA's bundle artifacts to.
  registry: { module: 'github.com/google/go-containerregistry', path: 'github.com/google/go-containerregistry/cmd/registry', version: 'v0.22.1' },
  oras: { module: 'oras.land/oras', path: 'oras.land/oras/cmd/oras', version: 'v1.3.6' },
};

/**
 * opa-envoy-plugin, the reference the differential suite (test/conformance/oep) compares with: built by the
 * script that ships beside its source archive in ../shared/opa-envoy-plugin, never copied into this repo.
 */
export const OPA_ENVOY_PLUGIN = {
  source: resolve(root, '..', 'shared', 'opa-envoy-plugin'),
  version: '1.19.1-envoy',
};

/** `opa-envoy-plugin version` prints `Version: 1.19.1-envoy` (the build stamps it with -ldflags). */
function pluginVersionMatches(binary) {
  const run = spawnSync(binary, ['version'], { encoding: 'utf8' });
  return run.status === 0 && run.stdout.split('\n').some((line) => line.trim() === `Version: ${OPA_ENVOY_PLUGIN.version}`);
}

/** Path of the opa-envoy-plugin binary, building it first if needed; undefined where ../shared is absent. */
export function ensureOpaEnvoyPlugin() {
  const local = join(TOOLS_BIN, 'opa-envoy-plugin');
  if (existsSync(local) && pluginVersionMatches(local)) return local;
  const script = join(OPA_ENVOY_PLUGIN.source, 'build.sh');
  if (!existsSync(script)) {
    process.stderr.write(`!!! opa-envoy-plugin NOT BUILT: ${script} is absent, so the differential suite (test/conformance/oep) will be skipped\n`);
    return undefined;
  }
  if (onPath('go') === undefined) {
    process.stderr.write('!!! opa-envoy-plugin NOT BUILT: Go is not installed, so the differential suite (test/conformance/oep) will be skipped\n');
    return undefined;
  }
  mkdirSync(TOOLS_BIN, { recursive: true });
  process.stderr.write(`building opa-envoy-plugin ${OPA_ENVOY_PLUGIN.version} with ${script} (once, about 2 minutes)...\n`);
  execFileSync('bash', [script, local], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (!pluginVersionMatches(local)) throw new Error(`${local} does not report Version: ${OPA_ENVOY_PLUGIN.version}`);
  return local;
}

/** `go version -m` reads the module version a Go binary was built from. */
function versionMatches(binary, tool) {
  // Built inside its module, a binary reports `(devel)`: the version it was built from is in a stamp beside it.
  if (tool.buildInModule !== undefined) return existsSync(`${binary}.version`) && readFileSync(`${binary}.version`, 'utf8').trim() === tool.version;
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

/** Where Debian's nginx package puts the binary (root's PATH has /usr/sbin; a user's may not). */
const NGINX_PATHS = ['/usr/sbin/nginx', '/usr/bin/nginx'];

/**
 * Path of Debian's nginx, installed with apt-get when absent and running as root; undefined (one loud line)
 * when it cannot be installed, so that the bundle-server tests say why they are skipped.
 */
export function ensureNginx() {
  const found = onPath('nginx') ?? NGINX_PATHS.find((path) => existsSync(path));
  if (found) return found;
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    process.stderr.write('!!! nginx NOT INSTALLED (needs root and apt-get: apt-get install -y nginx), so the bundle-server tests (test/integration/bundle-server*.test.ts) will be skipped\n');
    return undefined;
  }
  process.stderr.write('installing nginx with apt-get (once)...\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx'], { stdio: ['ignore', 'inherit', 'inherit'], env });
  // A fresh image has no package lists yet: update once and try again.
  if (install().status !== 0) {
    execFileSync('apt-get', ['update'], { stdio: ['ignore', 'inherit', 'inherit'], env });
    if (install().status !== 0) throw new Error('apt-get install nginx failed');
  }
  const installed = onPath('nginx') ?? NGINX_PATHS.find((path) => existsSync(path));
  if (!installed) throw new Error('nginx was installed but is not found in /usr/sbin');
  return installed;
}

/** The one thing to do when Go is missing, as one line (npm test prints it instead of a stack trace). */
export class GoMissing extends Error {
  constructor(name) {
    super(
      `${name} ${name === 'istio-api' ? ISTIO_API.version : TOOLS[name].version} is needed and Go is not installed: install Go 1.22 or later (https://go.dev/dl/, or apt-get install golang-go) ` +
        `and run again; the pinned opa, grpcurl and ghz then go into .tools/bin`,
    );
    this.name = 'GoMissing';
  }
}

/**
 * Istio's API source (protos and CRDs), pinned: the manifest tests read the EnvoyFilter of istio/ambient/ against
 * its envoy_filter.proto, since the CRDs of @kubernetes-models/istio (Istio 1.18) predate EnvoyFilter's targetRefs.
 * Fetched into Go's module cache (the module proxy serves it), never copied into this repo.
 */
export const ISTIO_API = { module: 'istio.io/api', version: 'v1.29.0' };

/** The directory of the pinned istio.io/api source in Go's module cache, downloading it once. */
export function ensureIstioApi() {
  if (onPath('go') === undefined) throw new GoMissing('istio-api');
  const env = { ...process.env, GOWORK: 'off', GOFLAGS: process.env.GOFLAGS ?? '-mod=mod' };
  const { Dir } = JSON.parse(execFileSync('go', ['mod', 'download', '-json', `${ISTIO_API.module}@${ISTIO_API.version}`], { encoding: 'utf8', env }));
  return Dir;
}

/** Path of a pinned tool, installing it first if needed. */
export function ensureTool(name) {
  if (name === 'istio-api') return ensureIstioApi();
  if (name === 'opa-envoy-plugin') return ensureOpaEnvoyPlugin();
  if (name === 'nginx') return ensureNginx();
  const tool = TOOLS[name];
  if (!tool) throw new Error(`unknown tool ${name}`);
  const local = join(TOOLS_BIN, name);
  const haveGo = onPath('go') !== undefined;
  // Without Go nothing can be verified or installed; a binary this script put in .tools/bin before is used as it is.
  if (!haveGo) {
    if (existsSync(local)) return local;
    throw new GoMissing(name);
  }
  if (existsSync(local) && versionMatches(local, tool)) return local;
  const fromPath = onPath(name);
  if (fromPath && versionMatches(fromPath, tool)) return fromPath;
  mkdirSync(TOOLS_BIN, { recursive: true });
  const env = { ...process.env, GOBIN: TOOLS_BIN, GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false', GOWORK: 'off' };
  if (tool.buildInModule !== undefined) {
    process.stderr.write(`building ${name} ${tool.version} in its module (once, several minutes)...\n`);
    const { Dir } = JSON.parse(execFileSync('go', ['mod', 'download', '-json', `${tool.module}@${tool.version}`], { encoding: 'utf8', env }));
    execFileSync('go', ['build', '-o', local, tool.buildInModule], { cwd: Dir, stdio: ['ignore', 'inherit', 'inherit'], env });
    writeFileSync(`${local}.version`, `${tool.version}\n`);
  } else {
    process.stderr.write(`installing ${name} ${tool.version} with go install (once)...\n`);
    execFileSync('go', ['install', `${tool.path}@${tool.version}`], { stdio: ['ignore', 'inherit', 'inherit'], env });
  }
  if (!versionMatches(local, tool)) throw new Error(`${local} does not report version ${tool.version}`);
  return local;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2);
  try {
    const everyday = Object.keys(TOOLS).filter((name) => !TOOLS[name].onRequest);
    for (const name of names.length > 0 ? names : [...everyday, 'opa-envoy-plugin', 'nginx', 'istio-api']) ensureTool(name);
  } catch (error) {
    if (!(error instanceof GoMissing)) throw error;
    process.stderr.write(`meshwarden: ${error.message}\n`);
    process.exit(1);
  }
}
