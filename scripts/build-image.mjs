#!/usr/bin/env node
// Builds what the container image holds, with the same steps the Dockerfile's stages run (their RUN lines
// call this script), so CI checks the image build without Docker.
//
//   node scripts/build-image.mjs --out DIR [--opa PATH] [STEP ...]
//
// Steps (no step named = all four, in this order, which is what CI runs):
//   policies  `opa test policies`, then compile each policy with the pinned opa (the version in
//             scripts/tools.mjs; `--opa PATH` names the binary, else tools.mjs installs it) into
//             DIR/policies/build/, and fail unless each bundle equals the committed policies/build/ one;
//             copy the embedded default rules file to DIR/policies/default/ (the Dockerfile's `policies`
//             stage)
//   build     copy package.json, package-lock.json, tsconfig.json and src/ into a scratch folder, `npm ci`
//             there (dev dependencies included), `npm run build` (tsc), then a production-only
//             `npm ci --omit=dev` into DIR and DIR/dist/src from the build (the Dockerfile's `build` stage)
//   verify    DIR is exactly the runtime layout: package.json, node_modules with every production package
//             of the lockfile and no dev-only one, dist/src, policies/build, policies/default/rules.yaml;
//             no build tool in it
//   smoke     start `node DIR/dist/src/cli.js serve` on 127.0.0.1 port 0 from DIR alone, wait for its
//             `serving` log line (the embedded default rules from DIR), expect 200 from the admin
//             endpoint's /healthz and /readyz and a
//             listening gRPC port, then SIGTERM and expect exit code 0
// The runtime stage runs `verify smoke` on /app as the image's user, so a broken image fails to build.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPA_TEST_ARGS, POLICIES, build as buildPolicy } from './build-policies.mjs';
import { TOOLS, ensureTool } from './tools.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** The compiled policies: the list and the `opa build` call are scripts/build-policies.mjs's. */
export { POLICIES };

/** The embedded default rules file, served when neither --rules nor --bundle is given (src/package-paths.ts). */
export const DEFAULT_RULES = 'policies/default/rules.yaml';

/** What the runtime tree (the image's /app) holds at its top level, and nothing else. */
export const RUNTIME_ENTRIES = ['dist', 'node_modules', 'package.json', 'policies'];

/** Build tools that must not be in the runtime tree (as packages in node_modules, or as bins). */
export const BUILD_TOOLS = ['typescript', 'vitest', 'vite', 'esbuild', 'rollup', 'rolldown', 'tsx', 'ts-node', 'npm', 'corepack', 'node-gyp'];

export const STEPS = ['policies', 'build', 'verify', 'smoke'];

const NPM_FLAGS = ['--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=warn'];

function log(message) {
  process.stderr.write(`build-image: ${message}\n`);
}

class BuildError extends Error {}

function fail(message) {
  throw new BuildError(message);
}

function run(command, args, cwd, env = process.env) {
  log(`${relative(process.cwd(), cwd) || '.'}$ ${command} ${args.join(' ')}`);
  execFileSync(command, args, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** `opa version` prints `Version: 1.22.2`; the pin in tools.mjs is `v1.22.2`. */
function checkOpaVersion(opa) {
  const out = spawnSync(opa, ['version'], { encoding: 'utf8' });
  if (out.status !== 0) fail(`${opa} version failed: ${out.stderr || out.error}`);
  const version = /^Version:\s*(\S+)/m.exec(out.stdout)?.[1];
  const pinned = TOOLS.opa.version.replace(/^v/, '');
  if (version !== pinned) fail(`${opa} is opa ${version ?? '(unknown)'}, but scripts/tools.mjs pins ${TOOLS.opa.version}`);
}

export function stepPolicies(out, opaPath) {
  const opa = opaPath ?? ensureTool('opa');
  checkOpaVersion(opa);
  run(opa, OPA_TEST_ARGS, root);
  const outDir = join(out, 'policies', 'build');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const committedDir = join(root, 'policies', 'build');
  const problems = [];
  for (const policy of POLICIES) {
    const built = buildPolicy(opa, policy, outDir);
    const committed = join(committedDir, `${policy.name}.tar.gz`);
    if (!existsSync(committed)) problems.push(`policies/build/${policy.name}.tar.gz is missing`);
    else if (!readFileSync(committed).equals(readFileSync(built))) problems.push(`policies/build/${policy.name}.tar.gz does not match ${policy.dir}`);
  }
  const known = new Set(POLICIES.map((policy) => `${policy.name}.tar.gz`));
  for (const file of existsSync(committedDir) ? readdirSync(committedDir) : []) {
    if (!known.has(file)) problems.push(`policies/build/${file} is committed but scripts/build-image.mjs is not built (add it to POLICIES in scripts/build-policies.mjs)`);
  }
  if (problems.length > 0) fail(`${problems.join('; ')}: run npm run build:policies, commit the bundles, list it in POLICIES in scripts/build-policies.mjs`);
  rmSync(join(out, 'policies', 'default'), { recursive: true, force: true });
  mkdirSync(join(out, 'policies', 'default'), { recursive: true });
  cpSync(join(root, DEFAULT_RULES), join(out, DEFAULT_RULES));
  log(`policies: ${POLICIES.length} bundle(s) in ${outDir}, equal to the committed ones; ${DEFAULT_RULES}`);
}

export function stepBuild(out) {
  const work = mkdtempSync(join(tmpdir(), 'meshwarden-image-build-'));
  try {
    for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'src']) cpSync(join(root, entry), join(work, entry), { recursive: true });
    // --include=dev: a NODE_ENV=production in the environment would otherwise leave out tsc.
    run('npm', ['ci', '--include=dev', ...NPM_FLAGS], work);
    run('npm', ['run', 'build'], work);
    if (!existsSync(join(work, 'dist', 'src', 'cli.js'))) fail('npm run build did not produce dist/src/cli.js');

    mkdirSync(out, { recursive: true });
    for (const entry of ['node_modules', 'dist', 'package.json', 'package-lock.json']) rmSync(join(out, entry), { recursive: true, force: true });
    cpSync(join(work, 'package.json'), join(out, 'package.json'));
    cpSync(join(work, 'package-lock.json'), join(out, 'package-lock.json'));
    // A fresh production install from the lockfile rather than a prune: nothing of the dev install can stay.
    run('npm', ['ci', '--omit=dev', ...NPM_FLAGS], out, { ...process.env, NODE_ENV: 'production' });
    rmSync(join(out, 'package-lock.json'));
    cpSync(join(work, 'dist', 'src'), join(out, 'dist', 'src'), { recursive: true });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  log(`build: dist/src and production node_modules in ${out}`);
}

function walk(dir, visit) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    visit(path, entry);
    if (entry.isDirectory()) walk(path, visit);
  }
}

/** Problems with the runtime tree in `out`; empty when it is the image's /app as it should be. */
export function verifyRuntimeTree(out) {
  const problems = [];
  if (!existsSync(out)) return [`${out} does not exist`];
  const top = readdirSync(out).sort();
  for (const entry of RUNTIME_ENTRIES) if (!top.includes(entry)) problems.push(`${entry} is missing`);
  for (const entry of top) if (!RUNTIME_ENTRIES.includes(entry)) problems.push(`${entry} does not belong in the runtime tree`);
  if (problems.length > 0) return problems;

  if (!readFileSync(join(out, 'package.json')).equals(readFileSync(join(root, 'package.json')))) problems.push('package.json differs from the project one');
  if (!existsSync(join(out, 'dist', 'src', 'cli.js'))) problems.push('dist/src/cli.js is missing');
  walk(join(out, 'dist'), (path, entry) => {
    if (entry.isFile() && !/\.js(\.map)?$/.test(entry.name)) problems.push(`${relative(out, path)}: only compiled .js (and source maps) belong in dist`);
  });
  const policyEntries = readdirSync(join(out, 'policies')).sort();
  if (policyEntries.join() !== 'build,default') problems.push(`policies holds ${policyEntries.join(', ')}, expected build and default`);
  const defaults = existsSync(join(out, 'policies', 'default')) ? readdirSync(join(out, 'policies', 'default')) : [];
  if (defaults.join() !== 'rules.yaml') problems.push(`policies/default holds [${defaults.join(', ')}], expected [rules.yaml] (the embedded default rules)`);
  const wanted = POLICIES.map((policy) => `${policy.name}.tar.gz`).sort();
  const present = existsSync(join(out, 'policies', 'build')) ? readdirSync(join(out, 'policies', 'build')).sort() : [];
  if (present.join() !== wanted.join()) problems.push(`policies/build holds [${present.join(', ')}], expected [${wanted.join(', ')}]`);

  // Against the lockfile: every production package installed at its locked version, no dev-only package.
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  for (const [path, meta] of Object.entries(lock.packages ?? {})) {
    if (!path.startsWith('node_modules/')) continue;
    const manifest = join(out, path, 'package.json');
    if (meta.dev) {
      if (existsSync(manifest)) problems.push(`${path} is a dev dependency`);
    } else if (!meta.optional && !meta.devOptional) {
      if (!existsSync(manifest)) problems.push(`${path} (production) is missing`);
      else if (JSON.parse(readFileSync(manifest, 'utf8')).version !== meta.version) problems.push(`${path} is not the locked ${meta.version}`);
    }
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const name of Object.keys(pkg.devDependencies ?? {})) {
    if (lock.packages?.[`node_modules/${name}`]?.dev && existsSync(join(out, 'node_modules', name))) problems.push(`devDependency ${name} is installed`);
  }
  for (const tool of BUILD_TOOLS) {
    if (existsSync(join(out, 'node_modules', tool))) problems.push(`build tool ${tool} is in node_modules`);
  }
  const bins = existsSync(join(out, 'node_modules', '.bin')) ? readdirSync(join(out, 'node_modules', '.bin')) : [];
  for (const bin of bins) {
    if (['tsc', 'tsserver', 'vitest', 'vite', 'esbuild', 'rollup', 'tsx', 'ts-node', 'npm', 'npx', 'opa', 'go', 'node-gyp'].includes(bin)) problems.push(`build tool node_modules/.bin/${bin}`);
  }
  walk(out, (path, entry) => {
    if (!entry.isDirectory() && ['opa', 'go', 'gofmt'].includes(entry.name)) problems.push(`${relative(out, path)} is a build tool`);
  });
  return problems;
}

export function stepVerify(out) {
  const problems = verifyRuntimeTree(out);
  if (problems.length > 0) fail(`the runtime tree ${out} is wrong:\n  ${problems.join('\n  ')}`);
  const count = readdirSync(join(out, 'node_modules')).filter((name) => !name.startsWith('.')).length;
  log(`verify: ${out} holds ${RUNTIME_ENTRIES.join(', ')} only; ${count} top-level production packages, no dev dependency, no build tool`);
}

/**
 * Node resolves packages in every node_modules above a file (and require() also in ~/.node_modules and
 * ~/.node_libraries): one there would hide a dependency the runtime tree lacks.
 */
function nodeModulesAbove(dir) {
  const found = [join(homedir(), '.node_modules'), join(homedir(), '.node_libraries')].filter((path) => existsSync(path));
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    if (existsSync(join(parent, 'node_modules'))) found.push(join(parent, 'node_modules'));
    if (dirname(parent) === parent) return found;
  }
}

function httpStatus(url) {
  return fetch(url, { signal: AbortSignal.timeout(5_000) }).then((response) => response.status);
}

function tcpConnects(host, port) {
  return new Promise((resolveConnect) => {
    const socket = connect({ host, port, timeout: 5_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolveConnect(false);
    });
  });
}

function splitAddress(address) {
  const match = /^\[?(.*?)\]?:(\d+)$/.exec(address);
  if (!match) fail(`cannot read the address ${address}`);
  return { host: match[1], port: Number(match[2]) };
}

export async function stepSmoke(out, { timeoutMs = 30_000 } = {}) {
  const app = realpathSync(out);
  const leaks = nodeModulesAbove(app);
  if (leaks.length > 0) fail(`${leaks.join(', ')} above ${app} would let node find packages the runtime tree lacks: use an --out outside any project`);
  const cli = join(app, 'dist', 'src', 'cli.js');
  // The image's environment: no MESHWARDEN_* settings, no NODE_OPTIONS or NODE_PATH from the caller.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MESHWARDEN_') && key !== 'NODE_OPTIONS' && key !== 'NODE_PATH'));
  env.NODE_ENV = 'production';
  const args = [cli, 'serve', '--grpc-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0'];
  log(`smoke: node ${args.join(' ')}`);
  const child = spawn(process.execPath, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let stderr = '';
  const exited = new Promise((resolveExit) => child.once('close', (code, signal) => resolveExit({ code, signal })));
  let exitInfo;
  void exited.then((info) => (exitInfo = info));
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      try {
        lines.push(JSON.parse(text));
      } catch {
        lines.push({ msg: text });
      }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const output = () => `\n--- stdout\n${lines.map((line) => JSON.stringify(line)).join('\n')}\n--- stderr\n${stderr}`;
  const waitFor = async (msg) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = lines.find((candidate) => candidate.msg === msg);
      if (line) return line;
      if (exitInfo) fail(`the server exited (${JSON.stringify(exitInfo)}) before logging "${msg}"${output()}`);
      if (Date.now() > deadline) fail(`no "${msg}" log line within ${timeoutMs} ms${output()}`);
      await new Promise((resolveSleep) => setTimeout(resolveSleep, 50));
    }
  };

  try {
    const serving = await waitFor('serving');
    const admin = await waitFor('admin endpoint listening');
    const rules = join(app, DEFAULT_RULES);
    if (serving.rules !== rules) fail(`the server serves ${serving.rules ?? serving.policy}, not the embedded default rules ${rules}${output()}`);
    const adminAddress = splitAddress(String(admin.address));
    const grpcAddress = splitAddress(String(serving.address));
    for (const path of ['/healthz', '/readyz']) {
      const status = await httpStatus(`http://${adminAddress.host}:${adminAddress.port}${path}`);
      if (status !== 200) fail(`GET ${path} answered ${status}, expected 200${output()}`);
    }
    if (!(await tcpConnects(grpcAddress.host, grpcAddress.port))) fail(`nothing listens on the gRPC address ${serving.address}`);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const { code, signal } = await exited;
    clearTimeout(timer);
    if (code !== 0) fail(`after SIGTERM the server exited with ${code ?? signal}, expected 0${output()}`);
    if (!lines.some((line) => line.msg === 'stopped')) fail(`the server exited without its "stopped" log line${output()}`);
    log(`smoke: served the embedded default rules ${DEFAULT_RULES} (revision ${serving.revision}) on gRPC ${serving.address} and admin ${admin.address}; /readyz 200; SIGTERM, exit 0`);
    return { serving, admin, lines };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

function parseArgs(argv) {
  const options = { steps: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--out' || arg === '--opa') {
      const value = argv[++i];
      if (value === undefined) fail(`${arg} needs a value`);
      options[arg.slice(2)] = resolve(value);
    } else if (STEPS.includes(arg)) options.steps.push(arg);
    else fail(`unknown argument ${arg}; usage: node scripts/build-image.mjs --out DIR [--opa PATH] [${STEPS.join('|')} ...]`);
  }
  if (!options.out) fail('--out DIR is required');
  if (options.steps.length === 0) options.steps = [...STEPS];
  return options;
}

export async function main(argv) {
  const options = parseArgs(argv);
  const started = Date.now();
  for (const step of STEPS.filter((name) => options.steps.includes(name))) {
    const stepStarted = Date.now();
    if (step === 'policies') stepPolicies(options.out, options.opa);
    else if (step === 'build') stepBuild(options.out);
    else if (step === 'verify') stepVerify(options.out);
    else await stepSmoke(options.out);
    log(`${step} took ${((Date.now() - stepStarted) / 1000).toFixed(1)} s`);
  }
  log(`done (${options.steps.join(', ')}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`build-image: ${error instanceof BuildError ? error.message : (error?.stack ?? error)}\n`);
    process.exit(1);
  });
}
