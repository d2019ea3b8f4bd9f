import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { normaliseHost, parseRules, readRulesFile } from '../../../src/rules/parse.js';

function problemsOf(text: string): readonly string[] {
  try {
    parseRules(text, 'rules.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

/** One rule with a valid head; `body` is indented under it. */
function rule(body: string, name = 'r'): string {
  return `rules:\n  - name: ${name}\n    action: ALLOW\n${body}`;
}

describe('parseRules: a valid file', () => {
  it('reads every field, with the defaults for what is omitted', () => {
    const file = parseRules(
      `default: allow
rules:
  - name: analytics-reads-data
    action: ALLOW
    shadow: true
    to: {principals: [cluster.local/ns/data/sa/data], namespaces: [data], serviceAccounts: [data/data]}
    from:
      - principals: ["*", example.org/ns/a/sa/b]
        notPrincipals: [cluster.local/ns/a/sa/c]
        namespaces: [a]
        notNamespaces: [b]
        serviceAccounts: [a/b]
        notServiceAccounts: [a/c]
        trustDomains: [cluster.local]
        notTrustDomains: [evil.example]
    operations:
      - methods: [GET]
        notMethods: [POST]
        paths: [/exact, /prefix/*, "*.json", "*"]
        notPaths: [/admin*]
        hosts: ["Data.Example:8080", "*.Example.COM.", "api.*", "[::1]:80"]
        notHosts: [evil.example.]
        ports: [8080, "9090"]
        notPorts: [22]
    when:
      - key: request.headers[X-Team]
        values: [blue]
      - key: request.query[Mode]
        notValues: [debug]
      - key: jwt.claims[iss]
        values: [https://issuer.example]
      - key: context[region]
        values: [eu]
        notValues: [us]
  - name: second
    action: DENY
`,
      'rules.yaml',
    );
    expect(file.source).toBe('rules.yaml');
    expect(file.default).toBe('allow');
    expect(file.defaultLine).toBe(1);
    expect(file.rules.map((r) => [r.name, r.action, r.shadow, r.line])).toEqual([
      ['analytics-reads-data', 'ALLOW', true, 3],
      ['second', 'DENY', false, 35],
    ]);
    const [first, second] = file.rules;
    expect(first!.to).toEqual({ principals: ['cluster.local/ns/data/sa/data'], namespaces: ['data'], serviceAccounts: ['data/data'], line: 6 });
    expect(first!.from).toEqual([
      {
        principals: ['*', 'example.org/ns/a/sa/b'],
        notPrincipals: ['cluster.local/ns/a/sa/c'],
        namespaces: ['a'],
        notNamespaces: ['b'],
        serviceAccounts: ['a/b'],
        notServiceAccounts: ['a/c'],
        trustDomains: ['cluster.local'],
        notTrustDomains: ['evil.example'],
        line: 8,
      },
    ]);
    expect(first!.operations).toEqual([
      {
        methods: ['GET'],
        notMethods: ['POST'],
        paths: [{ exact: '/exact' }, { prefix: '/prefix/' }, { suffix: '.json' }, { any: true }],
        notPaths: [{ prefix: '/admin' }],
        hosts: [{ exact: 'data.example' }, { suffix: '.example.com' }, { prefix: 'api.' }, { exact: '[::1]' }],
        notHosts: [{ exact: 'evil.example' }],
        ports: [8080, 9090],
        notPorts: [22],
        line: 17,
      },
    ]);
    expect(first!.when).toEqual([
      { key: 'request.headers', name: 'x-team', values: ['blue'], notValues: [], line: 26 },
      { key: 'request.query', name: 'Mode', values: [], notValues: ['debug'], line: 28 },
      { key: 'jwt.claims', name: 'iss', values: ['https://issuer.example'], notValues: [], line: 30 },
      { key: 'context', name: 'region', values: ['eu'], notValues: ['us'], line: 32 },
    ]);
    expect(second).toMatchObject({ to: undefined, from: [], operations: [], when: [] });
  });

  it('reads JSON with the same line numbers and result', () => {
    const json = parseRules('{\n  "default": "deny",\n  "rules": [\n    {"name": "a", "action": "DENY",\n     "operations": [{"paths": ["/x"]}]}\n  ]\n}\n', 'rules.json');
    expect(json.default).toBe('deny');
    expect(json.defaultLine).toBe(2);
    expect(json.rules[0]).toMatchObject({ name: 'a', action: 'DENY', line: 4, operations: [{ paths: [{ exact: '/x' }], line: 5 }] });
  });

  it('accepts an empty rule list and defaults to deny', () => {
    expect(parseRules('rules: []\n', 'r.yaml')).toEqual({ source: 'r.yaml', default: 'deny', defaultLine: undefined, rules: [] });
  });

  it('resolves YAML aliases', () => {
    const file = parseRules(rule('    from:\n      - principals: &callers [cluster.local/ns/a/sa/a]\n') + '  - name: s\n    action: DENY\n    from: [{notPrincipals: *callers}]\n', 'r.yaml');
    expect(file.rules[1]!.from[0]!.notPrincipals).toEqual(['cluster.local/ns/a/sa/a']);
  });

  it('reads a file from disk, and names it when it cannot', () => {
    expect(readRulesFile('examples/rules/regulated-data.yaml').rules.map((r) => r.name)).toEqual(['analytics-reads-data']);
    expect(() => readRulesFile('/nonexistent/rules.yaml')).toThrow(/^\/nonexistent\/rules\.yaml: cannot read the rules file/);
  });
});

describe('parseRules: every problem at once, with rule name and line', () => {
  it('reports the issue example and all its neighbours in one error, sorted by line', () => {
    const problems = problemsOf(`default: maybe
rules:
  - name: analytics-reads-data
    action: allow
    to:
      principals: ["spiffe://cluster.local/ns/data/sa/data"]
    from:
      - principals: ["cluster.local/ns/*/sa/x", "*"]
        notprincipals: ["*"]
        namespaces: [Analytics]
    operations:
      - methods: [get]
        paths: ["/ok", "*/x*", "nope"]
        ports: [0, "8080", 70000]
    when:
      - key: request.auth.claims[iss]
        values: []
  - name: analytics-reads-data
    action: DENY
    from: []
  - action: ALLOW
    to: [{operation: {paths: [/x]}}]
`);
    expect(problems).toEqual([
      'rules.yaml:1: default: "maybe" is not allow or deny',
      'rules.yaml:4: rule "analytics-reads-data": action: "allow" is not ALLOW or DENY (write it in capitals: ALLOW)',
      'rules.yaml:6: rule "analytics-reads-data": to.principals[0]: "spiffe://cluster.local/ns/data/sa/data" must be written without "spiffe://", as in Istio: "cluster.local/ns/data/sa/data"',
      'rules.yaml:8: rule "analytics-reads-data": from[0].principals[0]: "cluster.local/ns/*/sa/x" is not an exact principal or "*" (Istio\'s prefix* and *suffix principals are not supported; use namespaces, serviceAccounts or trustDomains)',
      'rules.yaml:9: rule "analytics-reads-data": from[0].notprincipals: unknown key (expected one of principals, notPrincipals, namespaces, notNamespaces, serviceAccounts, notServiceAccounts, trustDomains, notTrustDomains); did you mean "notPrincipals"?',
      'rules.yaml:10: rule "analytics-reads-data": from[0].namespaces[0]: "Analytics" is not a namespace (a DNS label: lowercase letters, digits and "-", at most 63 characters)',
      'rules.yaml:12: rule "analytics-reads-data": operations[0].methods[0]: "get" is not an uppercase method (write "GET")',
      'rules.yaml:13: rule "analytics-reads-data": operations[0].paths[1]: "*/x*" is not exact, prefix*, *suffix or *',
      'rules.yaml:13: rule "analytics-reads-data": operations[0].paths[2]: "nope" must start with "/"',
      'rules.yaml:14: rule "analytics-reads-data": operations[0].ports[0]: "0" is not a port (a whole number from 1 to 65535)',
      'rules.yaml:14: rule "analytics-reads-data": operations[0].ports[2]: "70000" is not a port (a whole number from 1 to 65535)',
      'rules.yaml:16: rule "analytics-reads-data": when[0].key: "request.auth.claims[iss]" is not request.headers[NAME], request.query[NAME], jwt.claims[NAME] or context[NAME]',
      'rules.yaml:17: rule "analytics-reads-data": when[0].values: must not be empty (an empty list would mean "no constraint"; omit the key instead)',
      'rules.yaml:18: rule "analytics-reads-data": name: duplicate: the rule on line 3 has the same name',
      'rules.yaml:20: rule "analytics-reads-data": from: must not be empty (an empty list would mean "no constraint"; omit the key instead)',
      'rules.yaml:21: rules[2]: name: required',
      'rules.yaml:22: rules[2]: to: expected a mapping: "to" is the destination workload (principals, namespaces, serviceAccounts); request paths and methods go in "operations"',
    ]);
  });

  // [rules body under one rule named "r" (head on lines 1-3), expected problems]
  const cases: [string, string, string[]][] = [
    ['unknown rule key', '    sorce: []\n', ['rules.yaml:4: rule "r": sorce: unknown key (expected one of name, action, shadow, to, from, operations, when)']],
    ['snake_case key', '    from: [{not_namespaces: [a]}]\n', ['rules.yaml:4: rule "r": from[0].not_namespaces: unknown key (expected one of principals, notPrincipals, namespaces, notNamespaces, serviceAccounts, notServiceAccounts, trustDomains, notTrustDomains); did you mean "notNamespaces"?']],
    ['Istio source wrapper', '    from:\n      - source: {principals: [a]}\n', ['rules.yaml:5: rule "r": from[0].source: unknown key (expected one of principals, notPrincipals, namespaces, notNamespaces, serviceAccounts, notServiceAccounts, trustDomains, notTrustDomains): write the fields directly in the from entry (no "source:" wrapper as in Istio)']],
    ['from as a mapping', '    from: {principals: [cluster.local/ns/a/sa/b]}\n', ['rules.yaml:4: rule "r": from: expected a list of sources (mappings)']],
    ['empty from entry', '    from: [{}]\n', ['rules.yaml:4: rule "r": from[0]: is empty; omit "from" for a rule that matches every source']],
    ['empty operations entry', '    operations:\n      - {}\n', ['rules.yaml:5: rule "r": operations[0]: is empty; omit "operations" for a rule that matches every operation']],
    ['empty to', '    to: {}\n', ['rules.yaml:4: rule "r": to: names no destination; omit "to" for a rule that applies at every destination']],
    ['to principals *', '    to: {principals: ["*"]}\n', ['rules.yaml:4: rule "r": to.principals[0]: "*" is not a destination; omit "to" for a rule that applies at every destination']],
    ['notPrincipals * in an ALLOW', '    from: [{notPrincipals: ["*"]}]\n', ['rules.yaml:4: rule "r": from[0].notPrincipals[0]: "*" would never match in an ALLOW rule: a negative condition never matches a caller without an identity, and every identity is excluded (in a DENY rule it denies every caller without one)']],
    ['suffix principal', '    from: [{principals: ["*/sa/admin"]}]\n', ['rules.yaml:4: rule "r": from[0].principals[0]: "*/sa/admin" is not an exact principal or "*" (Istio\'s prefix* and *suffix principals are not supported; use namespaces, serviceAccounts or trustDomains)']],
    ['invalid SPIFFE ID', '    from: [{principals: [Cluster.local/ns/a/sa/b, cluster.local/ns//sa/b]}]\n', [
      'rules.yaml:4: rule "r": from[0].principals[0]: "Cluster.local/ns/a/sa/b" is not a valid SPIFFE ID once prefixed with "spiffe://": character "C" (U+0043) at index 9 is not allowed in a trust domain: the trust domain must be lowercase',
      'rules.yaml:4: rule "r": from[0].principals[1]: "cluster.local/ns//sa/b" is not a valid SPIFFE ID once prefixed with "spiffe://": the path has an empty segment at index 26',
    ]],
    ['trust-domain-only principal', '    from: [{principals: [cluster.local]}]\n', ['rules.yaml:4: rule "r": from[0].principals[0]: "cluster.local" names a trust domain, not a workload (use trustDomains for every workload of a trust domain)']],
    ['service accounts', '    from: [{serviceAccounts: [a, a/B, x/y/z, A/b]}]\n', [
      'rules.yaml:4: rule "r": from[0].serviceAccounts[0]: "a" is not "namespace/name"',
      'rules.yaml:4: rule "r": from[0].serviceAccounts[1]: "a/B" is not "namespace/name": the name "B" is not a DNS label',
      'rules.yaml:4: rule "r": from[0].serviceAccounts[2]: "x/y/z" is not "namespace/name"',
      'rules.yaml:4: rule "r": from[0].serviceAccounts[3]: "A/b" is not "namespace/name": the namespace "A" is not a DNS label',
    ]],
    ['trust domains', '    from: [{trustDomains: [spiffe://td.example, Bad.Example], notTrustDomains: ["a:1"]}]\n', [
      'rules.yaml:4: rule "r": from[0].trustDomains[0]: "spiffe://td.example" must be written without "spiffe://": "td.example"',
      'rules.yaml:4: rule "r": from[0].trustDomains[1]: "Bad.Example" is not a valid trust domain: character "B" (U+0042) at index 0 is not allowed in a trust domain: the trust domain must be lowercase',
      'rules.yaml:4: rule "r": from[0].notTrustDomains[0]: "a:1" is not a valid trust domain: character ":" (U+003A) at index 1 is not allowed in a trust domain: a port is not allowed',
    ]],
    ['non-string values', '    from: [{namespaces: [1, true, [a]]}]\n', [
      'rules.yaml:4: rule "r": from[0].namespaces[0]: expected a string, not "1" (quote it: "1")',
      'rules.yaml:4: rule "r": from[0].namespaces[1]: expected a string, not "true" (quote it: "true")',
      'rules.yaml:4: rule "r": from[0].namespaces[2]: expected a string, not a list',
    ]],
    ['path patterns', '    operations:\n      - paths: ["/a*b", "**", "*", "/x?y=1", "", "/a b"]\n        notPaths: ["/ok*", "*ok"]\n', [
      'rules.yaml:5: rule "r": operations[0].paths[0]: "/a*b" is not exact, prefix*, *suffix or *',
      'rules.yaml:5: rule "r": operations[0].paths[1]: "**" is not exact, prefix*, *suffix or *',
      'rules.yaml:5: rule "r": operations[0].paths[3]: "/x?y=1" contains "?" or "#": paths are matched without the query',
      'rules.yaml:5: rule "r": operations[0].paths[4]: "" is empty',
      'rules.yaml:5: rule "r": operations[0].paths[5]: "/a b" contains whitespace or a control character',
    ]],
    ['hosts', '    operations:\n      - hosts: ["a*b.example", "https://x.example/", ":8080", "*.:80"]\n', [
      'rules.yaml:5: rule "r": operations[0].hosts[0]: "a*b.example" is not exact, prefix*, *suffix or *',
      'rules.yaml:5: rule "r": operations[0].hosts[1]: "https://x.example/" is not a host name (no scheme, path or userinfo)',
      'rules.yaml:5: rule "r": operations[0].hosts[2]: ":8080" is empty once normalised (hosts are compared without port or trailing dot)',
      'rules.yaml:5: rule "r": operations[0].hosts[3]: "*.:80" is empty once normalised (hosts are compared without port or trailing dot)',
    ]],
    ['methods and ports', '    operations:\n      - methods: ["*", "G ET"]\n        notPorts: [8080.5, "http", [1]]\n', [
      'rules.yaml:5: rule "r": operations[0].methods[0]: "*" is not an HTTP method (an uppercase token)',
      'rules.yaml:5: rule "r": operations[0].methods[1]: "G ET" is not an HTTP method (an uppercase token)',
      'rules.yaml:6: rule "r": operations[0].notPorts[0]: "8080.5" is not a port (a whole number from 1 to 65535)',
      'rules.yaml:6: rule "r": operations[0].notPorts[1]: "http" is not a port (a whole number from 1 to 65535)',
      'rules.yaml:6: rule "r": operations[0].notPorts[2]: "(a collection)" is not a port (a whole number from 1 to 65535)',
    ]],
    ['when', '    when:\n      - key: request.headers[bad header]\n        values: [a]\n      - key: source.principal\n        notValues: [x]\n      - key: context[x]\n      - values: [x]\n        extra: 1\n', [
      'rules.yaml:5: rule "r": when[0].key: "bad header" is not a header name',
      'rules.yaml:7: rule "r": when[1].key: "source.principal" is not request.headers[NAME], request.query[NAME], jwt.claims[NAME] or context[NAME]',
      'rules.yaml:9: rule "r": when[2]: needs values or notValues',
      'rules.yaml:10: rule "r": when[3].key: required',
      'rules.yaml:11: rule "r": when[3].extra: unknown key (expected one of key, values, notValues)',
    ]],
    ['shadow not boolean', '    shadow: "yes"\n', ['rules.yaml:4: rule "r": shadow: expected true or false, not "yes"']],
  ];
  it.each(cases)('%s', (_label, body, expected) => {
    expect(problemsOf(rule(body))).toEqual(expected);
  });

  it('checks rule names and actions', () => {
    expect(
      problemsOf(`rules:
  - name: Bad_Name
    action: DENY
  - name: ${'a'.repeat(64)}
  - name: ok
    action: PERMIT
  - name: [x]
    action: ALLOW
  - just-a-string
`),
    ).toEqual([
      'rules.yaml:2: rules[0]: name: "Bad_Name" must be lowercase letters, digits and "-", start and end with a letter or digit, at most 63 characters',
      `rules.yaml:4: rules[1]: name: "${'a'.repeat(64)}" must be lowercase letters, digits and "-", start and end with a letter or digit, at most 63 characters`,
      'rules.yaml:4: rules[1]: action: required (ALLOW or DENY)',
      'rules.yaml:6: rule "ok": action: "PERMIT" is not ALLOW or DENY',
      'rules.yaml:7: rules[3]: name: expected a string, not a list',
      'rules.yaml:9: rules[4]: expected a rule (a mapping with name, action, …)',
    ]);
  });

  it('checks the top level', () => {
    expect(problemsOf('')).toEqual(['rules.yaml:1: the file is empty: expected a mapping with "rules" (and optionally "default")']);
    expect(problemsOf('- a\n')).toEqual(['rules.yaml:1: expected a mapping with "rules" (and optionally "default")']);
    expect(problemsOf('default: deny\n')).toEqual(['rules.yaml:1: rules: required (a list of rules; [] for none)']);
    expect(problemsOf('default: DENY\nrules: {}\nversion: 1\n')).toEqual([
      'rules.yaml:1: default: "DENY" is not allow or deny',
      'rules.yaml:2: rules: expected a list of rules',
      'rules.yaml:3: version: unknown key (expected one of default, rules)',
    ]);
  });

  it('reports YAML syntax errors and duplicate keys with their lines', () => {
    expect(problemsOf('rules:\n  - name: a\n    name: b\n')).toEqual([expect.stringMatching(/^rules\.yaml:3:5: not valid YAML or JSON: Map keys must be unique/)]);
    expect(problemsOf('{"rules": [\n  {"name": "a",}\n')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^rules\.yaml:\d+:\d+: not valid YAML or JSON: /)]),
    );
  });

  it.each([
    // [what, text, line:column, the line shown, the caret under the token at fault]
    ['a duplicate key', 'rules:\n  - name: a\n    name: b\n', '3:5', '    name: b', '    ^'],
    ['a mapping item out of line (the parser points at the indentation; the caret goes to the key)', 'rules:\n  - name: a\n    action: ALLOW\n  name: b\n   x: 1\n', '4:3', '  name: b', '  ^'],
    ['a tab as indentation', 'rules:\n  - name: a\n\taction: ALLOW\n', '3:1', '\taction: ALLOW', '^'],
    ['an unclosed flow sequence, where the parser notices it', 'rules:\n  - name: a\n    from: [{principals: [x]}\n    to: {}\n', '4:5', '    to: {}', '    ^'],
  ])('shows %s at its line and column, with the line and a caret', (_what, text, place, shown, caret) => {
    const problems = problemsOf(text);
    expect(problems).toHaveLength(1);
    const [first, line, marker] = problems[0]!.split('\n');
    expect(first).toMatch(new RegExp(`^rules\\.yaml:${place}: not valid YAML or JSON: [A-Z][^:]*[a-z\\]]$`));
    expect(line).toBe(`      ${shown}`);
    expect(marker).toBe(`      ${caret}`);
  });
});

describe('normaliseHost', () => {
  it.each([
    ['Data.Example.COM', 'data.example.com'],
    ['data.example.:8080', 'data.example'],
    ['data.example.', 'data.example'],
    ['[::1]:443', '[::1]'],
    ['[::1]', '[::1]'],
    ['example:', 'example'],
  ])('%s → %s', (input, expected) => {
    expect(normaliseHost(input)).toBe(expected);
  });
});
