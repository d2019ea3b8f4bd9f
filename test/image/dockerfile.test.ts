// The Dockerfile, linted without Docker: parsed with dockerfile-ast and checked by dockerfile-utils (the
// parser and validator behind VS Code's Docker language server), plus hadolint's rules that matter here and
// the project's own contract: pinned opa equal to scripts/tools.mjs, every build step a call to
// scripts/build-image.mjs, a non-root production-only runtime. .dockerignore is checked against it too.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DockerfileParser, type Copy, type From, type Instruction, type JSONInstruction, type Run } from 'dockerfile-ast';
import { validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const readRepoFile = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

interface Stage {
  from: From;
  name: string | null;
  index: number;
  instructions: Instruction[];
}

/** Every problem the validator knows, as an error. */
const STRICT: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

const lineOf = (instruction: Instruction): number => instruction.getRange().start.line + 1;
const where = (instruction: Instruction): string => `line ${lineOf(instruction)} (${instruction.getKeyword()})`;
const words = (instruction: Instruction): string[] => instruction.getArguments().map((argument) => argument.getValue());
const flag = (instruction: Copy | Run, name: string): string | null =>
  instruction.getFlags().find((candidate) => candidate.getName() === name)?.getValue() ?? null;

function stagesOf(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = instruction as From;
      stages.push({ from, name: from.getBuildStage(), index: stages.length, instructions: [] });
    } else stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

/** A RUN's shell command as one line (the parser has already joined continuation lines). */
const commandOf = (run: Instruction): string => words(run).join(' ');

/** JSON (exec) form: CMD ["a", "b"], as hadolint DL3025 asks; shell form runs under /bin/sh -c and loses signals. */
function isExecForm(instruction: JSONInstruction): boolean {
  return (instruction.getRawArgumentsContent() ?? '').trim().startsWith('[') && instruction.getJSONStrings().length > 0 && instruction.getClosingBracket() !== null;
}

/**
 * Generic Dockerfile lint: dockerfile-utils' diagnostics and hadolint's rules (DL numbers in the messages).
 * Returns one message per problem; empty means clean.
 */
export function lintDockerfile(text: string): string[] {
  const problems = validate(text, STRICT).map((diagnostic) => `line ${diagnostic.range.start.line + 1}: ${diagnostic.message}`);
  const stages = stagesOf(text);
  if (stages.length < 2) problems.push(`a multi-stage build needs build stages and a runtime stage, found ${stages.length} FROM`);
  const names = new Set<string>();
  for (const stage of stages) {
    const from = stage.from;
    const image = from.getImageName();
    const isLast = stage.index === stages.length - 1;
    if (!isLast && !stage.name) problems.push(`${where(from)}: name every build stage (FROM … AS name) so later stages refer to it by name`);
    if (stage.name) {
      if (names.has(stage.name.toLowerCase())) problems.push(`${where(from)}: stage name ${stage.name} is used twice (DL3024)`);
      names.add(stage.name.toLowerCase());
    }
    if (image === null) problems.push(`${where(from)}: no base image`);
    else if (image !== 'scratch') {
      if ((from.getImage() ?? '').includes('$')) problems.push(`${where(from)}: base image ${from.getImage()} comes from a variable, so no pin can be checked`);
      const tag = from.getImageTag();
      const digest = from.getImageDigest();
      if (!tag && !digest) problems.push(`${where(from)}: pin ${image} to a tag or digest (DL3006)`);
      if (tag === 'latest') problems.push(`${where(from)}: ${image}:latest is not a pin (DL3007)`);
    }
    for (const instruction of stage.instructions) {
      const keyword = instruction.getKeyword();
      if (keyword === 'ADD') {
        const sources = words(instruction).slice(0, -1);
        if (sources.some((source) => /^(https?|git|ssh):\/\/|^git@/.test(source))) problems.push(`${where(instruction)}: ADD of a URL fetches unpinned, unchecked content; download in a RUN with a checksum (DL3020)`);
        else problems.push(`${where(instruction)}: use COPY for files and folders (DL3020)`);
      }
      if (keyword === 'MAINTAINER') problems.push(`${where(instruction)}: MAINTAINER is deprecated, use a LABEL (DL4000)`);
      if (keyword === 'RUN') {
        const command = commandOf(instruction);
        if (/(^|[\s;&|(])sudo\s/.test(command)) problems.push(`${where(instruction)}: no sudo in a build (DL3004)`);
        if (/(^|[\s;&|])apt\s/.test(command)) problems.push(`${where(instruction)}: use apt-get, not apt, in scripts (DL3027)`);
        if (/(^|[\s;&|])cd\s/.test(command)) problems.push(`${where(instruction)}: use WORKDIR to change directory (DL3003)`);
        if (/apt-get\s+(dist-)?upgrade/.test(command)) problems.push(`${where(instruction)}: no apt-get upgrade: rebuild on a newer base image instead (DL3005)`);
        if (/apt-get\s+(-\S+\s+)*install/.test(command)) {
          if (!command.includes('--no-install-recommends')) problems.push(`${where(instruction)}: apt-get install without --no-install-recommends (DL3015)`);
          if (!/\s(-y|--yes|-qq?y|--assume-yes)(\s|$)/.test(command)) problems.push(`${where(instruction)}: apt-get install without -y (DL3014)`);
          if (!/rm\s+-(r?f|fr?|rf)\s+\/var\/lib\/apt\/lists/.test(command)) problems.push(`${where(instruction)}: apt-get install without rm -rf /var/lib/apt/lists/* in the same RUN (DL3009)`);
        }
        if (/\|/.test(command.replace(/\|\|/g, '')) && !text.includes('pipefail')) problems.push(`${where(instruction)}: a pipe without SHELL ["/bin/bash", "-o", "pipefail", "-c"] hides failures (DL4006)`);
        if (/(^|[;&|]\s*)(curl|wget)\s/.test(command)) problems.push(`${where(instruction)}: no downloads outside package managers: nothing would pin or check them`);
        if (/\bnpm\s+(i|install)\b/.test(command)) problems.push(`${where(instruction)}: npm install ignores the lockfile; use npm ci (DL3016)`);
        if (/\bgo\s+install\s+\S+(\s|$)/.test(command) && !/\bgo\s+install\s+\S+@v\d/.test(command)) problems.push(`${where(instruction)}: go install without a pinned @vX.Y.Z`);
        const mountFrom = flag(instruction as Run, 'mount')?.match(/(?:^|,)from=([^,]+)/)?.[1];
        if (mountFrom !== undefined && !stages.slice(0, stage.index).some((earlier) => earlier.name === mountFrom))
          problems.push(`${where(instruction)}: RUN --mount from=${mountFrom} is not an earlier stage (DL3022)`);
      }
      if (keyword === 'COPY') {
        const source = flag(instruction as Copy, 'from');
        if (source !== null) {
          if (source === stage.name) problems.push(`${where(instruction)}: COPY --from=${source} refers to its own stage (DL3023)`);
          else if (!stages.slice(0, stage.index).some((earlier) => earlier.name === source)) problems.push(`${where(instruction)}: COPY --from=${source} is not an earlier stage (DL3022)`);
        }
      }
      if ((keyword === 'CMD' || keyword === 'ENTRYPOINT') && !isExecForm(instruction as JSONInstruction))
        problems.push(`${where(instruction)}: ${keyword} in exec (JSON) form, so the process is PID 1 and gets signals (DL3025)`);
      if (keyword === 'WORKDIR' && !words(instruction)[0]?.startsWith('/') && !words(instruction)[0]?.startsWith('$')) problems.push(`${where(instruction)}: WORKDIR must be absolute (DL3000)`);
    }
  }
  const last = stages.at(-1);
  if (last) {
    const users = last.instructions.filter((instruction) => instruction.getKeyword() === 'USER');
    const user = users.at(-1);
    if (!user) problems.push(`the runtime stage (line ${lineOf(last.from)}) sets no USER, so it runs as root (DL3002)`);
    else {
      const [name, group] = (words(user)[0] ?? '').split(':');
      if (name === 'root' || name === '0' || name === '' || group === 'root' || group === '0') problems.push(`${where(user)}: the runtime stage's last USER is root (DL3002)`);
    }
    if (!last.instructions.some((instruction) => instruction.getKeyword() === 'CMD' || instruction.getKeyword() === 'ENTRYPOINT')) problems.push('the runtime stage has neither ENTRYPOINT nor CMD');
  }
  return problems;
}

/** The project's rules for its own Dockerfile: what the issue asks, tied to scripts/tools.mjs and build-image.mjs. */
export function checkProjectRules(text: string, pins: { opaVersion: string; steps: readonly string[] }): string[] {
  const problems: string[] = [];
  const stages = stagesOf(text);
  const byName = (name: string): Stage | undefined => stages.find((stage) => stage.name === name);
  const runtime = stages.at(-1);
  if (!runtime) return ['no stages'];
  const runs = stages.flatMap((stage) => stage.instructions.filter((instruction) => instruction.getKeyword() === 'RUN').map((run) => ({ stage, run })));

  // opa: built with go install in a golang stage, at the version scripts/tools.mjs pins.
  const opa = byName('opa');
  if (!opa || opa.from.getImageName() !== 'golang') problems.push('opa is built in a golang stage named opa');
  const goInstalls = runs.filter(({ run }) => /\bgo\s+install\b/.test(commandOf(run)));
  if (goInstalls.length !== 1) problems.push(`one go install of opa, found ${goInstalls.length}`);
  for (const { stage, run } of goInstalls) {
    const version = /github\.com\/open-policy-agent\/opa@(\S+)/.exec(commandOf(run))?.[1];
    if (version !== pins.opaVersion) problems.push(`${where(run)}: opa ${version ?? '(none)'} differs from the ${pins.opaVersion} that scripts/tools.mjs pins`);
    if (stage !== opa) problems.push(`${where(run)}: go install belongs in the opa stage`);
  }

  // Every other RUN is the project script (the same steps CI runs), except removing package managers at run time.
  const scriptSteps = new Map<string, Stage>();
  for (const { stage, run } of runs) {
    const command = commandOf(run);
    if (goInstalls.some((install) => install.run === run)) continue;
    const script = /^node\s+(\S*?)scripts\/build-image\.mjs((?:\s+\S+)*)$/.exec(command);
    if (script) {
      const args = (script[2] ?? '').trim().split(/\s+/);
      for (const arg of args.filter((word) => pins.steps.includes(word))) scriptSteps.set(arg, stage);
      const out = args[args.indexOf('--out') + 1];
      if (!args.includes('--out') || !out?.startsWith('/')) problems.push(`${where(run)}: the script needs --out with an absolute folder`);
      continue;
    }
    if (stage === runtime && /^rm\s+-rf(\s+\/(usr\/local\/(lib\/node_modules|bin\/(npm|npx|corepack|yarn|yarnpkg))|opt\/yarn-\*))+$/.test(command)) continue;
    problems.push(`${where(run)}: build steps are \`node scripts/build-image.mjs STEP\` (what CI runs), not \`${command}\``);
  }
  for (const step of pins.steps) if (!scriptSteps.has(step)) problems.push(`no RUN runs the script's ${step} step`);
  if (scriptSteps.get('policies') !== byName('policies')) problems.push('the policies step runs in the policies stage');
  if (scriptSteps.get('build') !== byName('build')) problems.push('the build step runs in the build stage');
  if (scriptSteps.get('verify') !== runtime || scriptSteps.get('smoke') !== runtime) problems.push('verify and smoke run in the runtime stage, on /app');
  const policiesRun = runs.find(({ run }) => / policies /.test(` ${commandOf(run)} `) && /build-image/.test(commandOf(run)));
  const opaFlag = policiesRun && /--opa\s+(\S+)/.exec(commandOf(policiesRun.run))?.[1];
  const copiedOpa = byName('policies')?.instructions.find((instruction) => instruction.getKeyword() === 'COPY' && flag(instruction as Copy, 'from') === 'opa');
  if (!opaFlag || !copiedOpa || words(copiedOpa).at(-1) !== opaFlag) problems.push('the policies step uses the opa that the opa stage built (COPY --from=opa to the --opa path)');

  // Base images: the Go toolchain for opa, the current Node LTS (24) for building and running.
  if (opa && `${opa.from.getImageName()}:${opa.from.getImageTag()}` !== 'golang:1.26-bookworm') problems.push('opa builds on golang:1.26-bookworm');
  for (const stage of [byName('policies'), byName('build'), runtime]) {
    if (stage && `${stage.from.getImageName()}:${stage.from.getImageTag()}` !== 'node:24-bookworm-slim') problems.push(`${where(stage.from)}: node stages use node:24-bookworm-slim (Node 24, the current LTS)`);
  }

  // The runtime: only stage outputs (no build context, no build tools), non-root, the server as entrypoint.
  const runtimeOf = (keyword: string): Instruction[] => runtime.instructions.filter((instruction) => instruction.getKeyword() === keyword);
  for (const copy of runtimeOf('COPY')) {
    if (flag(copy as Copy, 'from') === null) problems.push(`${where(copy)}: the runtime copies only from build stages, never the build context`);
  }
  const copies = runtimeOf('COPY').map((copy) => `${flag(copy as Copy, 'from')} ${words(copy).join(' ')}`);
  if (!copies.includes('build /out/ ./')) problems.push('the runtime takes /out (package.json, node_modules, dist) from the build stage');
  if (!copies.includes('policies /out/policies/ policies/')) problems.push('the runtime takes policies (the bundles and the default rules file) from the policies stage');
  if (words(runtimeOf('WORKDIR').at(-1) ?? runtime.from)[0] !== '/app') problems.push('the runtime WORKDIR is /app');
  const user = words(runtimeOf('USER').at(-1) ?? runtime.from)[0];
  if (user !== 'node' && user !== '1000' && user !== '1000:1000') problems.push(`the runtime runs as the node image's node user (uid 1000), not ${user}`);
  if (!runtimeOf('ENV').some((env) => words(env).join(' ') === 'NODE_ENV=production')) problems.push('the runtime sets NODE_ENV=production');
  const jsonOf = (keyword: string): string[] | undefined => (runtimeOf(keyword).at(-1) as JSONInstruction | undefined)?.getJSONStrings().map((value) => value.getJSONValue());
  if (JSON.stringify(jsonOf('ENTRYPOINT')) !== JSON.stringify(['node', '/app/dist/src/cli.js'])) problems.push('ENTRYPOINT ["node", "/app/dist/src/cli.js"]');
  if (JSON.stringify(jsonOf('CMD')) !== JSON.stringify(['serve'])) problems.push('CMD ["serve"]: the default command serves the embedded default rules');
  const exposed = runtimeOf('EXPOSE').flatMap(words).sort();
  if (exposed.join(' ') !== '9090 9191') problems.push(`EXPOSE 9191 (gRPC) and 9090 (admin), found ${exposed.join(' ') || 'none'}`);
  return problems;
}

/** Docker's .dockerignore matching: globs with **, later lines win, `!` re-includes, a folder's match covers its files. */
export function dockerIgnored(patterns: string[], path: string): boolean {
  const rules = patterns
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const glob = (negate ? line.slice(1) : line).trim().replace(/^\/+/, '').replace(/\/+$/, '');
      let source = '';
      for (let i = 0; i < glob.length; i++) {
        const char = glob[i]!;
        if (char === '*' && glob[i + 1] === '*') {
          source += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
          i += glob[i + 2] === '/' ? 2 : 1;
        } else if (char === '*') source += '[^/]*';
        else if (char === '?') source += '[^/]';
        else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) if (prefixes.some((prefix) => rule.regex.test(prefix))) ignored = !rule.negate;
  return ignored;
}

describe('Dockerfile lint (dockerfile-ast, dockerfile-utils and hadolint rules)', () => {
  let dockerfile: string;
  let pins: { opaVersion: string; steps: readonly string[] };
  beforeAll(async () => {
    dockerfile = readRepoFile('Dockerfile');
    const tools = (await import(pathToFileURL(join(ROOT, 'scripts', 'tools.mjs')).href)) as { TOOLS: { opa: { version: string } } };
    const script = (await import(pathToFileURL(join(ROOT, 'scripts', 'build-image.mjs')).href)) as { STEPS: readonly string[] };
    pins = { opaVersion: tools.TOOLS.opa.version, steps: script.STEPS };
  });

  it('passes the generic lint', () => {
    expect(lintDockerfile(dockerfile)).toEqual([]);
  });

  it('follows the project rules: pinned opa as in scripts/tools.mjs, every step the build script, non-root production runtime', () => {
    expect(pins.opaVersion).toMatch(/^v\d+\.\d+\.\d+$/);
    expect(pins.steps).toEqual(['policies', 'build', 'verify', 'smoke']);
    expect(checkProjectRules(dockerfile, pins)).toEqual([]);
  });

  it('has the stages the issue asks for, in order', () => {
    const stages = stagesOf(dockerfile);
    expect(stages.map((stage) => `${stage.name ?? '(image)'} ${stage.from.getImage()}`)).toEqual([
      'opa golang:1.26-bookworm',
      'policies node:24-bookworm-slim',
      'build node:24-bookworm-slim',
      '(image) node:24-bookworm-slim',
    ]);
  });

  it('the linter fails a bad Dockerfile, naming each problem', () => {
    const bad = [
      'from node',
      'ADD https://example.com/opa /usr/local/bin/opa',
      'RUN sudo apt-get install -y curl',
      'RUN go install github.com/open-policy-agent/opa@latest && npm install',
      'FROM node:latest',
      'WORKDIR app',
      'COPY --from=builder /src/dist dist',
      'RUN --mount=type=bind,from=nowhere,source=/,target=/x true',
      'USER root',
      'CMD node dist/src/cli.js serve',
      'CMD ["serve"]',
      'RUN curl -fsSL https://example.com/install.sh | sh',
      '',
    ].join('\n');
    const problems = lintDockerfile(bad);
    const expected = [
      /line 1: Instructions should be written in uppercase/,
      /line 1 \(FROM\): name every build stage/,
      /line 1 \(FROM\): pin node to a tag or digest \(DL3006\)/,
      /line 2 \(ADD\): ADD of a URL/,
      /line 3 \(RUN\): no sudo/,
      /line 3 \(RUN\): apt-get install without --no-install-recommends/,
      /line 3 \(RUN\): apt-get install without rm -rf \/var\/lib\/apt\/lists/,
      /line 4 \(RUN\): npm install ignores the lockfile/,
      /line 4 \(RUN\): go install without a pinned/,
      /line 5 \(FROM\): node:latest is not a pin \(DL3007\)/,
      /line 6: WORKDIR paths should be absolute/,
      /line 6 \(WORKDIR\): WORKDIR must be absolute/,
      /line 7 \(COPY\): COPY --from=builder is not an earlier stage/,
      /line 8 \(RUN\): RUN --mount from=nowhere is not an earlier stage/,
      /line 9 \(USER\): the runtime stage's last USER is root/,
      /line 10 \(CMD\): CMD in exec \(JSON\) form/,
      /There can only be one CMD instruction/,
      /line 12 \(RUN\): a pipe without SHELL/,
      /line 12 \(RUN\): no downloads/,
    ];
    for (const pattern of expected) expect(problems.some((problem) => pattern.test(problem)), `${pattern} in:\n${problems.join('\n')}`).toBe(true);
    expect(problems.filter((problem) => !expected.some((pattern) => pattern.test(problem)))).toEqual([]);
    const good = [
      'FROM debian:bookworm-slim AS tools',
      'RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*',
      'FROM node:24-bookworm-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000',
      'COPY --from=tools /etc/ssl/certs/ /etc/ssl/certs/',
      'USER 1000:1000',
      'ENTRYPOINT ["node", "/app/dist/src/cli.js"]',
      'CMD ["serve"]',
      '',
    ].join('\n');
    expect(lintDockerfile(good)).toEqual([]);
    expect(lintDockerfile('FROM node:24-bookworm-slim AS build\nFROM scratch\n')).toEqual(['the runtime stage (line 2) sets no USER, so it runs as root (DL3002)', 'the runtime stage has neither ENTRYPOINT nor CMD']);
    expect(lintDockerfile('FROM node:24-bookworm-slim\n')).toContain('a multi-stage build needs build stages and a runtime stage, found 1 FROM');
    expect(lintDockerfile('FROM a:1 AS x\nFROM b:2 AS x\nCOPY --from=x /a /b\nUSER 0:0\nENTRYPOINT ["node"\n')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/stage name x is used twice/),
        expect.stringMatching(/COPY --from=x refers to its own stage/),
        expect.stringMatching(/last USER is root/),
        expect.stringMatching(/ENTRYPOINT in exec \(JSON\) form/),
      ]),
    );
  });

  it('the project rules fail a Dockerfile that drifts from the script, the opa pin or the runtime contract', () => {
    const drift = (from: string | RegExp, to: string): string[] => {
      const changed = dockerfile.replace(from, to);
      expect(changed, `${from} not found in the Dockerfile`).not.toBe(dockerfile);
      return checkProjectRules(changed, pins);
    };
    expect(drift(`opa@${pins.opaVersion}`, 'opa@v0.70.0')).toEqual([expect.stringMatching(/opa v0\.70\.0 differs from the v\d/)]);
    expect(drift(/RUN --mount=type=cache\S* node scripts\/build-image\.mjs build --out \/out/, 'RUN npm ci && npm run build && npm prune --omit=dev')).toEqual(
      expect.arrayContaining([expect.stringMatching(/build steps are `node scripts\/build-image\.mjs STEP`/), 'no RUN runs the script\'s build step']),
    );
    expect(drift(/^USER node$/m, 'USER root')).toEqual([expect.stringMatching(/the runtime runs as the node image's node user/)]);
    expect(drift('CMD ["serve"]', 'CMD ["eval"]')).toEqual([expect.stringMatching(/CMD \["serve"\]/)]);
    expect(drift(/^EXPOSE 9090\n/m, '')).toEqual([expect.stringMatching(/EXPOSE 9191 \(gRPC\) and 9090 \(admin\), found 9191/)]);
    expect(drift('COPY --from=build /out/ ./', 'COPY --from=build /out/ ./\nCOPY src/ src/')).toEqual([expect.stringMatching(/never the build context/)]);
    expect(drift(/^FROM node:24-bookworm-slim$/m, 'FROM node:22-bookworm-slim')).toEqual([expect.stringMatching(/Node 24, the current LTS/)]);
    expect(drift(/ verify smoke /, ' verify ')).toEqual(["no RUN runs the script's smoke step", 'verify and smoke run in the runtime stage, on /app']);
  });
});

describe('.dockerignore', () => {
  const patterns = (): string[] => readRepoFile('.dockerignore').split('\n');

  it('matches as Docker does (the matcher itself)', () => {
    expect(dockerIgnored(['*', '!src/', '**/node_modules'], 'src/a.ts')).toBe(false);
    expect(dockerIgnored(['*', '!src/', '**/node_modules'], 'src/node_modules/x/index.js')).toBe(true);
    expect(dockerIgnored(['*', '!src/'], 'test/a.ts')).toBe(true);
    expect(dockerIgnored(['dist'], 'dist/src/cli.js')).toBe(true);
    expect(dockerIgnored(['*.log'], 'sub/a.log')).toBe(false);
    expect(dockerIgnored(['**/*.log'], 'sub/a.log')).toBe(true);
  });

  it('keeps out installed packages, build output, the Go tools, git and test output', () => {
    for (const path of ['node_modules/pino/package.json', 'dist/src/cli.js', '.tools/bin/opa', '.git/HEAD', 'coverage/index.html', 'test/unit/codec.test.ts', 'tmp/x', 'npm-debug.log', 'src/node_modules/x/index.js', 'policies/dist/x']) {
      expect(dockerIgnored(patterns(), path), path).toBe(true);
    }
  });

  it('lets in every file the Dockerfile copies from the build context', () => {
    const sources = stagesOf(readRepoFile('Dockerfile'))
      .flatMap((stage) => stage.instructions)
      .filter((instruction) => instruction.getKeyword() === 'COPY' && flag(instruction as Copy, 'from') === null)
      .flatMap((copy) => words(copy).slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'src/', 'policies/', 'scripts/build-image.mjs', 'scripts/tools.mjs']));
    const tracked = execFileSync('git', ['ls-files', '-z', '--', ...sources], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
    expect(tracked).toEqual(expect.arrayContaining(['src/cli.ts', 'policies/build/rules.tar.gz', 'policies/rules/authz.rego', 'policies/default/rules.yaml']));
    for (const path of tracked) expect(dockerIgnored(patterns(), path), path).toBe(false);
  });
});
