// The rules library is given a smaller input document than a Rego bundle (src/input.ts, shape `rules`): only
// the keys policies/rules/authz.rego reads. These tests hold that projection to the full document: every
// `input.` reference of the Rego finds the same value in both, and the real wasm library decides and
// explains every request alike with either document.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RULES_DECISION, RULES_EXPLAIN, RULES_POLICY_BUNDLE } from '../../src/defaults.js';
import { buildIdentities } from '../../src/identity.js';
import { buildInput, type Attributes, type InputShape } from '../../src/input.js';
import { loadPolicy, withData, type Policy } from '../../src/policy.js';
import { compileRulesFile } from '../../src/rules/load.js';
import { createTrustDomains } from '../../src/spiffe.js';
import { ROOT } from '../helpers/tools.js';

const trustDomains = createTrustDomains({ local: 'cluster.local', aliases: ['old.example'], federated: ['partner.example'] });
const identityOptions = { trustDomains, xfcc: false };

// Every kind of field the rules format has, positive and negative, in ALLOW, DENY and shadow rules.
const RULES = `
default: deny
rules:
  - name: analytics-reads-data
    action: ALLOW
    to: {principals: [cluster.local/ns/data/sa/data]}
    from: [{principals: [cluster.local/ns/analytics/sa/analytics]}, {namespaces: [batch], notServiceAccounts: [batch/cron]}]
    operations: [{methods: [GET, HEAD], paths: [/api/v1/data, "/api/v1/reports/*"], hosts: ["data.data.svc.cluster.local"], ports: [8080]}]
  - name: partner-reads
    action: ALLOW
    to: {namespaces: [data]}
    from: [{trustDomains: [partner.example]}]
    operations: [{methods: [GET], paths: ["*.json"], notHosts: ["internal.*"]}]
    when:
      - {key: "request.headers[x-team]", values: [blue, green]}
      - {key: "request.query[format]", notValues: [xml]}
  - name: jwt-writers
    action: ALLOW
    to: {serviceAccounts: [data/data]}
    from: [{principals: ["*"], notNamespaces: [frontend]}]
    operations: [{methods: [POST], paths: ["/api/v1/*"], notPaths: ["/api/v1/admin*"], notPorts: [9090]}]
    when:
      - {key: "jwt.claims[groups]", values: [writers]}
      - {key: "context[route]", values: [write-route]}
  - name: no-admin
    action: DENY
    to: {namespaces: [data]}
    operations: [{paths: ["/api/v1/admin*"]}, {notMethods: [GET, HEAD, POST]}]
  - name: no-plaintext
    action: DENY
    from: [{notPrincipals: ["*"]}]
  - name: legacy-header
    action: DENY
    shadow: true
    to: {namespaces: [data]}
    when:
      - {key: "request.headers[x-legacy]", values: ["1"]}
  - name: federated-writes
    action: DENY
    to: {namespaces: [data]}
    from: [{trustDomains: [partner.example], notTrustDomains: [cluster.local]}]
    operations: [{notMethods: [GET]}]
`;

const id = (td: string, ns: string, sa: string): string => `spiffe://${td}/ns/${ns}/sa/${sa}`;

interface Case {
  source: string;
  destination: string;
  method?: string | undefined;
  path?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  headers?: Record<string, string>;
  context?: Record<string, string>;
  jwt?: unknown;
}

function attributesOf(c: Case): Attributes {
  const http: Record<string, unknown> = {
    id: '8306245629211637762',
    headers: { ...(c.host === undefined ? {} : { ':authority': c.host }), ...(c.method === undefined ? {} : { ':method': c.method }), accept: 'application/json', ...c.headers },
    scheme: 'http',
    protocol: 'HTTP/1.1',
  };
  if (c.method !== undefined) http['method'] = c.method;
  if (c.path !== undefined) http['path'] = c.path;
  if (c.host !== undefined) http['host'] = c.host;
  return {
    source: { address: { socketAddress: { address: '10.0.1.17', portValue: 41234 } }, ...(c.source === '' ? {} : { principal: c.source }) },
    destination: { address: { socketAddress: { address: '10.0.2.5', portValue: c.port ?? 8080 } }, ...(c.destination === '' ? {} : { principal: c.destination }) },
    request: { time: { seconds: 1795858200, nanos: 123456000 }, http },
    ...(c.context === undefined ? {} : { contextExtensions: c.context }),
  };
}

function documentOf(c: Case, shape: InputShape): string {
  const attributes = attributesOf(c);
  const identities = buildIdentities(attributes, identityOptions);
  return buildInput(attributes, { skipBodyParse: false, shape }, { source: identities.source, destination: identities.destination, jwt: c.jwt }).json;
}

const data = id('cluster.local', 'data', 'data');
const SOURCES = [
  id('cluster.local', 'analytics', 'analytics'),
  id('old.example', 'analytics', 'analytics'),
  id('cluster.local', 'batch', 'worker'),
  id('cluster.local', 'batch', 'cron'),
  id('cluster.local', 'frontend', 'web'),
  id('partner.example', 'analytics', 'analytics'),
  id('evil.example', 'analytics', 'analytics'),
  'spiffe://cluster.local',
  'CN=analytics',
  '',
];
const DESTINATIONS = [data, id('cluster.local', 'data', 'other'), id('cluster.local', 'shop', 'shop'), id('partner.example', 'data', 'data'), ''];
const OPERATIONS: Partial<Case>[] = [
  { method: 'GET', path: '/api/v1/data', host: 'data.data.svc.cluster.local:8080' },
  { method: 'GET', path: '/api/v1/data?from=1&from=2', host: 'DATA.data.svc.cluster.local.' },
  { method: 'HEAD', path: '/api/v1/reports/2026', host: 'data.data.svc.cluster.local' },
  { method: 'GET', path: '/api/v1/data/../admin', host: 'data.data.svc.cluster.local' },
  { method: 'GET', path: '/api/v1/%61dmin', host: 'data.data.svc.cluster.local' },
  { method: 'GET', path: '//api/v1/data', host: 'data.data.svc.cluster.local' },
  { method: 'GET', path: '/export/all.json?format=json', host: 'data.example' },
  { method: 'GET', path: '/export/all.json?format=xml', host: 'internal.data' },
  { method: 'POST', path: '/api/v1/items', host: 'data.data.svc.cluster.local' },
  { method: 'POST', path: '/api/v1/admin/users', host: 'data.data.svc.cluster.local' },
  { method: 'POST', path: '/api/v1/items', host: 'data.data.svc.cluster.local', port: 9090 },
  { method: 'DELETE', path: '/api/v1/data', host: 'data.data.svc.cluster.local' },
  { method: undefined, path: undefined, host: undefined },
];
const EXTRAS: Partial<Case>[] = [
  {},
  { headers: { 'x-team': 'blue' } },
  { headers: { 'x-team': 'red', 'x-legacy': '1' } },
  { context: { route: 'write-route' }, jwt: { valid: true, claims: { groups: ['readers', 'writers'], sub: 'u1' } } },
  { context: { route: 'write-route' }, jwt: { valid: false, error: 'expired' } },
  { headers: { 'x-team': 'green' }, context: { route: 'other' }, jwt: { valid: true, claims: { groups: 'writers' } } },
];

const CASES: Case[] = [];
for (const source of SOURCES) {
  for (const destination of DESTINATIONS) {
    for (const [i, operation] of OPERATIONS.entries()) {
      // every operation with every extra for the data destination; elsewhere a sample keeps the run short
      const extras = destination === data ? EXTRAS : [EXTRAS[i % EXTRAS.length]!];
      for (const extra of extras) CASES.push({ source, destination, ...operation, ...extra });
    }
  }
}

describe('the rules input document (shape `rules`)', () => {
  let decide: Policy;
  let explain: Policy;
  beforeAll(async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'meshwarden-rules-input-')), 'rules.yaml');
    writeFileSync(file, RULES);
    const dataJson = compileRulesFile(file, trustDomains);
    decide = withData(await loadPolicy({ path: RULES_POLICY_BUNDLE, decision: RULES_DECISION }), dataJson, 'rules');
    explain = withData(await loadPolicy({ path: RULES_POLICY_BUNDLE, decision: RULES_EXPLAIN }), dataJson, 'rules');
  });

  it('is what serving a rules file gives the library, and is smaller than the full document', () => {
    expect(decide.input).toBe('rules');
    const c: Case = { source: SOURCES[0]!, destination: data, ...OPERATIONS[0], ...EXTRAS[3] };
    expect(documentOf(c, 'rules').length).toBeLessThan(documentOf(c, 'full').length * 0.7);
  });

  it('holds, for every `input.` reference of authz.rego, the value the full document has there', () => {
    const rego = readFileSync(join(ROOT, 'policies', 'rules', 'authz.rego'), 'utf8').replace(/#.*$/gm, '');
    const references = [...new Set([...rego.matchAll(/\binput\.([A-Za-z_][A-Za-z0-9_.]*)/g)].map((match) => match[1]!.replace(/\.$/, '')))];
    expect(references.length).toBeGreaterThan(15);
    // The one reference the projection leaves out: a fallback for documents without input.destination.port,
    // which the rules document always has (src/identity.ts takes it from the same address).
    const fallbacks: Record<string, string> = { 'attributes.destination.address.socketAddress.portValue': 'destination.port' };
    const at = (document: unknown, path: string): unknown =>
      path.split('.').reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), document);
    let compared = 0;
    for (const c of CASES.filter((_, index) => index % 7 === 0)) {
      const full = JSON.parse(documentOf(c, 'full')) as unknown;
      const rules = JSON.parse(documentOf(c, 'rules')) as unknown;
      for (const reference of references) {
        const fallback = fallbacks[reference];
        if (fallback === undefined) expect(at(rules, reference), reference).toEqual(at(full, reference));
        else expect(at(rules, fallback), reference).toEqual(at(full, reference) ?? null);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it(`decides and explains ${CASES.length} requests exactly as with the full document`, () => {
    const outcomes = new Set<string>();
    for (const c of CASES) {
      const full = documentOf(c, 'full');
      const rules = documentOf(c, 'rules');
      const label = JSON.stringify(c);
      const decision = decide.evaluate(rules);
      expect(decision, label).toEqual(decide.evaluate(full));
      expect(explain.evaluate(rules), label).toEqual(explain.evaluate(full));
      const [first] = decision as [{ result: { dynamic_metadata: { rule: string; reason: string } } }];
      outcomes.add(`${first.result.dynamic_metadata.reason}:${first.result.dynamic_metadata.rule}`);
    }
    // The cases reach every rule and every way of deciding, so the comparison covers each of them.
    expect([...outcomes].sort()).toEqual([
      'allowed_by_rule:analytics-reads-data',
      'allowed_by_rule:jwt-writers',
      'allowed_by_rule:partner-reads',
      'default_deny:default',
      'denied_by_rule:federated-writes',
      'denied_by_rule:no-admin',
      'denied_by_rule:no-plaintext',
      'no_allow_rule_matched:default',
    ]);
  });
});
