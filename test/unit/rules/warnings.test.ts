import { describe, expect, it } from 'vitest';
import { parseRules, readRulesFile } from '../../../src/rules/parse.js';
import { findRuleWarnings, formatWarning } from '../../../src/rules/warnings.js';
import { createTrustDomains } from '../../../src/identity/spiffe.js';

const CLUSTER = createTrustDomains({ local: 'cluster.local' });

function warningsOf(text: string, trustDomains = CLUSTER): string[] {
  return findRuleWarnings(parseRules(text, 'rules.yaml'), trustDomains).map((warning) => formatWarning('rules.yaml', warning));
}

describe('findRuleWarnings', () => {
  it('warns about nothing in the scenario examples', () => {
    for (const name of ['regulated-data', 'default-deny-frontend', 'authenticated-only', 'shadow-rollout']) {
      expect(findRuleWarnings(readRulesFile(`examples/rules/${name}.yaml`), CLUSTER), name).toEqual([]);
    }
    const eu = createTrustDomains({ local: 'eu-central.mesh.example', federated: ['us-east.mesh.example'] });
    expect(findRuleWarnings(readRulesFile('examples/rules/eu-only.yaml'), eu)).toEqual([]);
  });

  it('warns about default: allow', () => {
    expect(warningsOf('rules: []\ndefault: allow\n')).toEqual(['rules.yaml:2: warning: default: allow lets every request through at destinations that have no ALLOW rule']);
    expect(findRuleWarnings(parseRules('rules: []\ndefault: allow\n', 'r.yaml'), CLUSTER)).toEqual([
      { line: 2, rule: undefined, message: 'default: allow lets every request through at destinations that have no ALLOW rule' },
    ]);
  });

  it('warns about an ALLOW rule with no from, no to and no operations', () => {
    expect(warningsOf('rules:\n  - name: open\n    action: ALLOW\n')).toEqual([
      'rules.yaml:2: warning: rule "open": no "from": the rule admits every caller, including unauthenticated (plaintext) ones',
      'rules.yaml:2: warning: rule "open": no "to": the rule allows at every destination',
      'rules.yaml:2: warning: rule "open": no "operations": the rule allows every method and path',
    ]);
  });

  it('warns about wildcard sources and any-path operations', () => {
    expect(
      warningsOf(`rules:
  - name: wide
    action: ALLOW
    to: {namespaces: [data]}
    from:
      - principals: ["*"]
      - notNamespaces: [untrusted]
      - principals: ["*"]
        namespaces: [analytics]
    operations:
      - paths: ["*"]
      - methods: [GET]
      - paths: [/api/*]
`),
    ).toEqual([
      'rules.yaml:6: warning: rule "wide": from[0]: wildcard source: principals "*" admits every authenticated caller',
      'rules.yaml:7: warning: rule "wide": from[1]: wildcard source: it has no principals, namespaces, serviceAccounts or trustDomains, so it admits every authenticated caller not excluded by its not* fields',
      'rules.yaml:11: warning: rule "wide": operations[0].paths: "*" allows every path',
      'rules.yaml:12: warning: rule "wide": operations[1] has no paths: it allows every path',
    ]);
  });

  it('warns about an ALLOW header value with a comma, which never matches; a DENY matches it whole', () => {
    const rule = (action: string) =>
      `rules:\n  - name: dated\n    action: ${action}\n    to: {principals: [cluster.local/ns/a/sa/a]}\n    from: [{principals: [cluster.local/ns/b/sa/b]}]\n    operations: [{paths: [/x]}]\n    when:\n      - {key: "request.headers[x-date]", values: ["Tue, 01 Dec 2026", plain]}\n`;
    expect(warningsOf(rule('ALLOW'))).toEqual([
      'rules.yaml:8: warning: rule "dated": when[0].values: "Tue, 01 Dec 2026" holds a ",", which an ALLOW reads as several joined headers (Envoy joins a repeated header with ","), so it never matches',
    ]);
    expect(warningsOf(rule('DENY'))).toEqual([]);
  });

  it('does not warn about DENY rules that are wide: they narrow access', () => {
    expect(warningsOf('rules:\n  - name: block\n    action: DENY\n    from: [{principals: ["*"]}]\n    operations: [{paths: ["*"]}]\n')).toEqual([]);
  });

  it('warns about identities that can never match, in ALLOW and DENY rules alike', () => {
    expect(
      warningsOf(`rules:
  - name: foreign
    action: DENY
    to: {principals: [evil.example/ns/data/sa/data]}
    from:
      - principals: [evil.example/ns/a/sa/a, cluster.local/ns/a/sa/a]
        notPrincipals: [other.example/ns/b/sa/b]
        trustDomains: [evil.example]
        notTrustDomains: [partner.example]
`),
    ).toEqual([
      'rules.yaml:4: warning: rule "foreign": to.principals: "evil.example/ns/data/sa/data" is not in the local trust domain or an alias; destinations are local workloads, so the rule never applies',
      'rules.yaml:6: warning: rule "foreign": from[0].principals: "evil.example/ns/a/sa/a" is in trust domain "evil.example", which is neither local, an alias nor federated: no caller can have it, so it never matches',
      'rules.yaml:6: warning: rule "foreign": from[0].notPrincipals: "other.example/ns/b/sa/b" is in trust domain "other.example", which is neither local, an alias nor federated: no caller can have it, so it never matches',
      'rules.yaml:6: warning: rule "foreign": from[0].trustDomains: trust domain "evil.example" is neither local, an alias nor federated: no caller can be in it, so it never matches',
      'rules.yaml:6: warning: rule "foreign": from[0].notTrustDomains: trust domain "partner.example" is neither local, an alias nor federated: no caller can be in it, so it never matches',
    ]);
  });

});
