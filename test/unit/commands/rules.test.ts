// `meshwarden rules validate|compile` through the built command (build with `npx tsc -p tsconfig.json` first).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/tools.js';
import { makeTempDir } from '../../helpers/temp.js';

const CLI = join(ROOT, 'dist', 'src', 'cli.js');

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, env: { PATH: process.env.PATH, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build with npx tsc -p tsconfig.json`);
  dir = makeTempDir('meshwarden-rules-');
});

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('meshwarden rules validate', () => {
  it.each([
    ['regulated-data', [], '1 rule valid'],
    ['default-deny-frontend', [], '2 rules valid'],
    ['authenticated-only', [], '1 rule valid'],
    ['shadow-rollout', [], '2 rules valid'],
    ['eu-only', ['--trust-domain', 'eu-central.mesh.example', '--federated-trust-domains=us-east.mesh.example'], '1 rule valid'],
  ])('passes examples/rules/%s.yaml', async (name, flags, summary) => {
    const file = `examples/rules/${name}.yaml`;
    const result = await runCli(['rules', 'validate', file, ...flags]);
    expect(result).toEqual({ code: 0, stdout: `${file}: ${summary}\n`, stderr: '' });
  });

  it('prints warnings after the summary and still exits 0', async () => {
    const file = write('wide.yaml', 'default: allow\nrules:\n  - name: open\n    action: ALLOW\n    from: [{principals: ["*"]}]\n');
    const result = await runCli(['rules', 'validate', file]);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      `${file}: 1 rule valid`,
      `${file}:1: warning: default: allow lets every request through at destinations that have no ALLOW rule`,
      `${file}:3: warning: rule "open": no "to": the rule allows at every destination`,
      `${file}:3: warning: rule "open": no "operations": the rule allows every method and path`,
      `${file}:5: warning: rule "open": from[0]: wildcard source: principals "*" admits every authenticated caller`,
      '',
    ]);
  });

  it('prints every error and exits 2', async () => {
    const file = write('bad.yaml', 'rules:\n  - name: analytics-reads-data\n    action: ALLOW\n    operations:\n      - paths: [/ok, "*/x*"]\n  - name: Nope\n    action: allow\n');
    const result = await runCli(['rules', 'validate', file]);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'meshwarden rules: 3 problems:\n' +
        `  - ${file}:5: rule "analytics-reads-data": operations[0].paths[1]: "*/x*" is not exact, prefix*, *suffix or *\n` +
        `  - ${file}:6: rules[1]: name: "Nope" must be lowercase letters, digits and "-", start and end with a letter or digit, at most 63 characters\n` +
        `  - ${file}:7: rules[1]: action: "allow" is not ALLOW or DENY (write it in capitals: ALLOW)\n`,
    });
  });

  it('takes the trust domains from flags, the environment and --config, as serve does', async () => {
    const file = write('td.yaml', 'rules:\n  - name: r\n    action: DENY\n    from: [{trustDomains: [old.example]}]\n');
    const warning = `${file}:4: warning: rule "r": from[0].trustDomains: trust domain "old.example" is neither local, an alias nor federated: no caller can be in it, so it never matches`;
    expect((await runCli(['rules', 'validate', file])).stdout).toBe(`${file}: 1 rule valid\n${warning}\n`);
    expect((await runCli(['rules', 'validate', '--trust-domain-aliases', 'old.example', file])).stdout).toBe(`${file}: 1 rule valid\n`);
    expect((await runCli(['rules', 'validate', file], { MESHWARDEN_TRUST_DOMAIN: 'old.example' })).stdout).toBe(`${file}: 1 rule valid\n`);
    const config = write('config.yaml', 'trust-domain: new.example\ntrust-domain-aliases: [old.example]\n');
    expect((await runCli(['rules', 'validate', file, '--config', config])).stdout).toBe(`${file}: 1 rule valid\n`);
  });

  it('reports usage errors and bad settings with exit 2', async () => {
    expect(await runCli(['rules', 'validate'])).toMatchObject({ code: 2, stderr: 'meshwarden rules: a rules FILE is required\n(meshwarden rules validate --help shows the usage)\n' });
    expect(await runCli(['rules', 'validate', 'a.yaml', 'b.yaml'])).toMatchObject({ code: 2, stderr: 'meshwarden rules: one rules FILE at a time (got a.yaml, b.yaml)\n(meshwarden rules validate --help shows the usage)\n' });
    const bad = await runCli(['rules', 'validate', 'examples/rules/regulated-data.yaml', '--trust-domain', 'Bad', '--nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--nope: unknown flag');
    expect(bad.stderr).toContain('the local trust domain "Bad" is not a valid trust domain');
    expect(await runCli(['rules', 'validate', join(dir, 'missing.yaml')])).toMatchObject({ code: 2, stderr: expect.stringContaining('cannot read the rules file') });
    expect(await runCli(['rules', 'frobnicate'])).toMatchObject({ code: 2, stderr: expect.stringContaining('meshwarden rules: unknown subcommand "frobnicate"; usage:') });
  });
});

describe('meshwarden rules compile', () => {
  it('prints the data document with cluster.local expanded', async () => {
    const result = await runCli(['rules', 'compile', 'examples/rules/regulated-data.yaml', '--trust-domain-aliases=old.example']);
    expect(result.code).toBe(0);
    const document = JSON.parse(result.stdout);
    expect(Object.keys(document.meshwarden.rules.by_destination)).toEqual([
      'principal:spiffe://cluster.local/ns/data/sa/data',
      'principal:spiffe://old.example/ns/data/sa/data',
    ]);
    expect(document.meshwarden.rules.by_destination['principal:spiffe://old.example/ns/data/sa/data'].allow[0].from[0].principals).toEqual([
      'spiffe://cluster.local/ns/analytics/sa/analytics',
      'spiffe://old.example/ns/analytics/sa/analytics',
    ]);
  });
});

describe('meshwarden rules explain', () => {
  it('evaluates the request on the rules bundle with the compiled rules as data', async () => {
    const result = await runCli(['rules', 'explain', '--rules', 'examples/rules/regulated-data.yaml', '--request', 'examples/requests/analytics-get-data.json']);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed.policy).toMatchObject({ source: join(ROOT, 'policies', 'build', 'rules.tar.gz'), decision: 'meshwarden/rules/decision' });
    expect(printed.input.source.spiffe_id).toBe('spiffe://cluster.local/ns/analytics/sa/analytics');
    expect(printed.allowed).toBe(true);
    expect(printed.explanation).toEqual({
      decided_by: 'analytics-reads-data',
      reason: 'allowed_by_rule',
      shadow_denies: [],
      matched: ['analytics-reads-data'],
      rules: [{ name: 'analytics-reads-data', action: 'ALLOW', shadow: false, matched: true, not_matched: [], why: [] }],
      destination_keys: ['namespace:data', 'principal:spiffe://cluster.local/ns/data/sa/data', 'service_account:data/data'],
      path_ambiguous: false,
    });
  });

  // Every rule of the destination, whether it matched, and for the others the parts that did not.
  const SEVERAL_RULES = `rules:
  - name: analytics-reads-data
    action: ALLOW
    to: {principals: [cluster.local/ns/data/sa/data]}
    from: [{principals: [cluster.local/ns/analytics/sa/analytics]}]
    operations: [{methods: [GET], paths: [/api/v1/data]}]
  - name: analytics-namespace-gets
    action: ALLOW
    to: {namespaces: [data]}
    from: [{namespaces: [analytics]}]
    operations: [{methods: [GET]}]
  - name: writers-post
    action: ALLOW
    to: {namespaces: [data]}
    from: [{namespaces: [writers]}]
    operations: [{methods: [POST]}]
  - name: no-debug-header
    action: DENY
    shadow: true
    when: [{key: "request.headers[x-debug]", values: ["1"]}]
  - name: frontend-never
    action: DENY
    to: {serviceAccounts: [data/data]}
    from: [{namespaces: [frontend]}]
  - name: other-service
    action: ALLOW
    to: {namespaces: [other]}
`;

  it('lists every rule of the destination: which matched, which decided, and why the others did not', async () => {
    const rules = write('several.yaml', SEVERAL_RULES);
    const result = await runCli(['rules', 'explain', '--rules', rules, '--request', 'examples/requests/analytics-get-data.json']);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed.response.dynamicMetadata.rule).toBe('analytics-namespace-gets');
    expect(printed.explanation).toMatchObject({
      decided_by: 'analytics-namespace-gets',
      reason: 'allowed_by_rule',
      matched: ['analytics-namespace-gets', 'analytics-reads-data'],
      rules: [
        { name: 'analytics-namespace-gets', action: 'ALLOW', shadow: false, matched: true, not_matched: [] },
        { name: 'analytics-reads-data', action: 'ALLOW', shadow: false, matched: true, not_matched: [] },
        { name: 'frontend-never', action: 'DENY', shadow: false, matched: false, not_matched: ['from'], why: ['from[0]: namespace analytics not in [frontend]'] },
        { name: 'no-debug-header', action: 'DENY', shadow: true, matched: false, not_matched: ['when'], why: ['when[0]: request.headers[x-debug] is not one of [1]'] },
        {
          name: 'writers-post',
          action: 'ALLOW',
          shadow: false,
          matched: false,
          not_matched: ['from', 'operations'],
          // the value that failed and the list it is not in, field by field
          why: ['from[0]: namespace analytics not in [writers]', 'operations[0]: method GET not in [POST]'],
        },
      ],
      path_ambiguous: false,
    });
  });

  it('names an ambiguous path as the reason an ALLOW did not match, and the DENY that decided', async () => {
    const rules = write('several-ambiguous.yaml', SEVERAL_RULES);
    const request = JSON.parse(readFileSync(join(ROOT, 'examples', 'requests', 'analytics-get-data.json'), 'utf8'));
    request.attributes.source.principal = 'spiffe://cluster.local/ns/frontend/sa/web';
    request.attributes.request.http.path = '/api/v1//data';
    request.attributes.request.http.headers['x-debug'] = '1';
    const requestFile = write('ambiguous-request.json', JSON.stringify(request));
    const result = await runCli(['rules', 'explain', '--rules', rules, '--request', requestFile]);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed.allowed).toBe(false);
    expect(printed.explanation).toMatchObject({
      decided_by: 'frontend-never',
      reason: 'denied_by_rule',
      matched: ['frontend-never', 'no-debug-header'],
      rules: [
        { name: 'analytics-namespace-gets', matched: false, not_matched: ['ambiguous_path', 'from'] },
        // its path, as sent, is not /api/v1/data either
        { name: 'analytics-reads-data', matched: false, not_matched: ['ambiguous_path', 'from', 'operations'] },
        { name: 'frontend-never', matched: true, not_matched: [] },
        { name: 'no-debug-header', shadow: true, matched: true, not_matched: [] },
        { name: 'writers-post', matched: false, not_matched: ['ambiguous_path', 'from', 'operations'] },
      ],
      path_ambiguous: true,
    });
  });

  it.each([
    ['analytics-post-data.json', ['operations[0]: method POST not in [GET]']],
    [
      'foreign-trust-domain.json',
      [
        'from[0]: principal (none) not in [spiffe://cluster.local/ns/analytics/sa/analytics]',
        'trust domain evil.example not accepted (neither the local trust domain, an alias nor a federated one): the caller spiffe://evil.example/ns/analytics/sa/analytics is unauthenticated',
      ],
    ],
    ['plaintext-spoofed-identity.json', ['from[0]: principal (none) not in [spiffe://cluster.local/ns/analytics/sa/analytics]', 'the caller has no identity (no mTLS principal: a plaintext connection?)']],
  ])('says in words why %s did not match: the value and the list', async (request, why) => {
    const result = await runCli(['rules', 'explain', '--request', `examples/requests/${request}`]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).explanation.rules).toEqual([expect.objectContaining({ name: 'analytics-reads-data', why })]);
  });

  it('explains with the embedded default rules without --rules; an empty --rules is an error', async () => {
    const result = await runCli(['rules', 'explain', '--request', 'examples/requests/default-sa-get-data.json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).explanation).toMatchObject({
      decided_by: 'default',
      reason: 'no_allow_rule_matched',
      matched: [],
      rules: [
        {
          name: 'analytics-reads-data',
          action: 'ALLOW',
          shadow: false,
          matched: false,
          not_matched: ['from'],
          why: ['from[0]: principal spiffe://cluster.local/ns/analytics/sa/default not in [spiffe://cluster.local/ns/analytics/sa/analytics]'],
        },
      ],
    });
    expect(await runCli(['rules', 'explain', '--rules=', '--request', 'examples/requests/analytics-get-data.json'])).toMatchObject({ code: 2, stderr: 'meshwarden rules: --rules needs a FILE\n(meshwarden rules explain --help shows the usage)\n' });
  });
});
