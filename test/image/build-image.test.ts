// scripts/build-image.mjs, as CI runs it: every step of the Dockerfile (policies, build) into a temp folder
// outside the project, then its verify and smoke steps. Checked here again, independently of the script:
// the runtime layout, production packages only, no build tools, and the tree deciding on its own.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICIES } from '../../scripts/build-policies.mjs';
import { makeTempDir } from '../helpers/temp.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'build-image.mjs');
const BUILD_TIMEOUT_MS = 5 * 60_000;

interface Run {
  code: number | null;
  stderr: string;
  ms: number;
}

function runScript(args: string[]): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS - 10_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}

const readJson = (path: string): any => JSON.parse(readFileSync(path, 'utf8'));

describe('scripts/build-image.mjs: the image build without Docker', () => {
  let out: string;
  let run: Run;

  beforeAll(async () => {
    out = makeTempDir('meshwarden-image-');
    run = await runScript(['--out', out]);
  }, BUILD_TIMEOUT_MS);

  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('runs every step (policies, build, verify, smoke) and exits 0', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`policies: ${POLICIES.length} bundle\\(s\\) .*equal to the committed ones`));
    expect(run.stderr).toMatch(/npm ci --include=dev/);
    expect(run.stderr).toMatch(/npm run build/);
    expect(run.stderr).toMatch(/npm ci --omit=dev/);
    expect(run.stderr).toMatch(/verify: .* no dev dependency, no build tool/);
    expect(run.stderr).toMatch(/smoke: served the embedded default rules policies\/default\/rules\.yaml .*\/readyz 200; SIGTERM, exit 0/);
    expect(run.stderr).toMatch(/done \(policies, build, verify, smoke\)/);
  });

  it('assembles exactly the runtime layout of the image’s /app', () => {
    expect(readdirSync(out).sort()).toEqual(['dist', 'node_modules', 'package.json', 'policies']);
    expect(readFileSync(join(out, 'package.json'), 'utf8')).toBe(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(existsSync(join(out, 'dist', 'src', 'cli.js'))).toBe(true);
    expect(readdirSync(join(out, 'dist'))).toEqual(['src']);
    expect(readdirSync(join(out, 'policies')).sort()).toEqual(['build', 'default']);
    expect(readdirSync(join(out, 'policies', 'build'))).toEqual(POLICIES.map((policy) => `${policy.name}.tar.gz`).sort());
    for (const policy of POLICIES) {
      const bundle = join('policies', 'build', `${policy.name}.tar.gz`);
      expect(readFileSync(join(out, bundle)).equals(readFileSync(join(ROOT, bundle))), bundle).toBe(true);
    }
    // The embedded default rules, served by `serve` without --rules or --bundle.
    expect(readdirSync(join(out, 'policies', 'default'))).toEqual(['rules.yaml']);
    expect(readFileSync(join(out, 'policies', 'default', 'rules.yaml'), 'utf8')).toBe(readFileSync(join(ROOT, 'policies', 'default', 'rules.yaml'), 'utf8'));
  });

  it('has every production dependency and no devDependency or build tool', () => {
    const pkg = readJson(join(ROOT, 'package.json'));
    const lock = readJson(join(ROOT, 'package-lock.json'));
    for (const name of Object.keys(pkg.dependencies)) expect(existsSync(join(out, 'node_modules', name, 'package.json')), name).toBe(true);
    const devOnly = Object.keys(pkg.devDependencies).filter((name) => lock.packages[`node_modules/${name}`]?.dev);
    expect(devOnly).toEqual(expect.arrayContaining(['typescript', 'vitest', '@peculiar/x509', 'kubernetes-models', '@kubernetes-models/istio', 'dockerfile-ast']));
    for (const name of devOnly) expect(existsSync(join(out, 'node_modules', name)), name).toBe(false);
    for (const tool of ['typescript', 'vitest', 'vite', 'esbuild', 'rollup', 'npm']) expect(existsSync(join(out, 'node_modules', tool)), tool).toBe(false);
    const bins = existsSync(join(out, 'node_modules', '.bin')) ? readdirSync(join(out, 'node_modules', '.bin')) : [];
    for (const bin of ['tsc', 'tsserver', 'vitest', 'vite', 'esbuild', 'npm', 'npx', 'opa']) expect(bins, bin).not.toContain(bin);
    const installed = Object.entries(lock.packages as Record<string, { dev?: boolean; optional?: boolean }>).filter(
      ([path, meta]) => path.startsWith('node_modules/') && !meta.dev && !meta.optional && existsSync(join(out, path, 'package.json')),
    );
    expect(installed.length).toBeGreaterThan(Object.keys(pkg.dependencies).length);
  });

  it('decides with the embedded default rules from the tree alone (meshwarden eval, production packages only)', () => {
    const evaluate = (request: string): any =>
      JSON.parse(
        execFileSync(process.execPath, [join(out, 'dist', 'src', 'cli.js'), 'eval', '--request', join(ROOT, 'examples', 'requests', request)], {
          cwd: out,
          encoding: 'utf8',
          env: { PATH: process.env['PATH'] ?? '', NODE_ENV: 'production' },
        }),
      );
    const allowed = evaluate('analytics-get-data.json');
    expect(allowed.policy.source).toBe(join(realpathSync(out), 'policies', 'build', 'rules.tar.gz'));
    expect(allowed.policy.rules).toBe(join(realpathSync(out), 'policies', 'default', 'rules.yaml'));
    expect(allowed.allowed).toBe(true);
    expect(allowed.response.dynamicMetadata).toMatchObject({ rule: 'analytics-reads-data', reason: 'allowed_by_rule' });
    const denied = evaluate('analytics-post-data.json');
    expect(denied.allowed).toBe(false);
    expect(denied.reason).toBe('no_allow_rule_matched');
    expect(denied.response.dynamicMetadata).toMatchObject({ rule: 'default', reason: 'no_allow_rule_matched' });
  });
});

describe('scripts/build-image.mjs verify', () => {
  it('rejects a runtime tree with a dev dependency, a missing production package or extra files', async () => {
    const script = (await import(pathToFileURL(SCRIPT).href)) as { verifyRuntimeTree(out: string): string[] };
    const fake = makeTempDir('meshwarden-image-fake-');
    try {
      cpSync(join(ROOT, 'package.json'), join(fake, 'package.json'));
      mkdirSync(join(fake, 'dist', 'src'), { recursive: true });
      writeFileSync(join(fake, 'dist', 'src', 'cli.js'), '');
      writeFileSync(join(fake, 'dist', 'src', 'cli.ts'), '');
      mkdirSync(join(fake, 'policies', 'build'), { recursive: true });
      for (const policy of POLICIES) writeFileSync(join(fake, 'policies', 'build', `${policy.name}.tar.gz`), '');
      mkdirSync(join(fake, 'policies', 'default'), { recursive: true }); // without the default rules file
      mkdirSync(join(fake, 'node_modules', 'typescript'), { recursive: true });
      writeFileSync(join(fake, 'node_modules', 'typescript', 'package.json'), '{"version":"5.0.0"}');
      mkdirSync(join(fake, 'node_modules', '.bin'), { recursive: true });
      writeFileSync(join(fake, 'node_modules', '.bin', 'tsc'), '');
      const problems = script.verifyRuntimeTree(fake);
      expect(problems).toEqual(
        expect.arrayContaining([
          'dist/src/cli.ts: only compiled .js (and source maps) belong in dist',
          'node_modules/typescript is a dev dependency',
          'devDependency typescript is installed',
          'build tool typescript is in node_modules',
          'build tool node_modules/.bin/tsc',
          'node_modules/pino (production) is missing',
          'policies/default holds [], expected [rules.yaml] (the embedded default rules)',
        ]),
      );
      writeFileSync(join(fake, 'tsconfig.json'), '{}');
      expect(script.verifyRuntimeTree(fake)).toEqual(['tsconfig.json does not belong in the runtime tree']);
    } finally {
      rmSync(fake, { recursive: true, force: true });
    }
  });
});
