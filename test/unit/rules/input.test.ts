// The rules library is given a smaller input document than a Rego bundle (src/rules/input.ts): only
// the keys policies/rules/authz.rego reads, and only the headers, query parameters and context extensions
// its rules name. These tests hold that projection to the full document: every `input.` reference of the
// Rego finds the same value in both, and the real wasm library decides and explains every request alike
// with either document.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RULES_DECISION, RULES_EXPLAIN } from '../../../src/rules/library.js';
import { buildIdentities } from '../../../src/identity/identity.js';
import { buildInput } from '../../../src/check/input.js';
import { withHeaderMap } from '../../../src/request/header-map.js';
import { createRulesInputWriter, type RulesInputNames } from '../../../src/rules/input.js';
import { type Attributes } from '../../../src/envoy/types.js';
import type { Policy } from '../../../src/check/policy.js';
import { compileRulesFile, loadRulesLibrary, type CompiledRulesFile } from '../../../src/rules/library.js';
import { createTrustDomains } from '../../../src/identity/spiffe.js';
import { ROOT } from '../../helpers/tools.js';
import { failureOf } from '../helpers.js';
import { makeTempDir } from '../../helpers/temp.js';

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
  /** Sent as header_map (Envoy's encode_raw_headers) instead of headers. */
  headerMap?: { key: string; value?: string; rawValue?: string }[];
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
  if (c.headerMap !== undefined) {
    const headers = http['headers'] as Record<string, string>;
    http['headerMap'] = { headers: [...Object.entries(headers).map(([key, value]) => ({ key, value })), ...c.headerMap] };
    delete http['headers'];
  }
  return {
    source: { address: { socketAddress: { address: '10.0.1.17', portValue: 41234 } }, ...(c.source === '' ? {} : { principal: c.source }) },
    destination: { address: { socketAddress: { address: '10.0.2.5', portValue: c.port ?? 8080 } }, ...(c.destination === '' ? {} : { principal: c.destination }) },
    request: { time: { seconds: 1795858200, nanos: 123456000 }, http },
    ...(c.context === undefined ? {} : { contextExtensions: c.context }),
  };
}

/** The full document, or the rules library's when given what the rules read. */
function documentOf(c: Case, rules?: RulesInputNames): string {
  const attributes = attributesOf(c);
  // As the Check path builds it (check/check.ts): header_map entries seen as headers, the full document as sent.
  const viewed = withHeaderMap(attributes);
  const identities = buildIdentities(viewed, identityOptions);
  return buildInput(viewed, { skipBodyParse: false, writer: rules && createRulesInputWriter(rules), rendered: attributes }, { source: identities.source, destination: identities.destination, jwt: c.jwt }).json;
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
  { method: 'GET', path: '/api/v1/data?from=1&from=2&format=csv', host: 'DATA.data.svc.cluster.local.' },
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
  { context: { route: 'write-route', tenant: 't1' }, jwt: { valid: true, claims: { groups: ['readers', 'writers'], sub: 'u1' } } },
  { context: { route: 'write-route' }, jwt: { valid: false, error: 'expired' } },
  { headers: { 'x-team': 'green' }, context: { route: 'other' }, jwt: { valid: true, claims: { groups: 'writers' } } },
  { headerMap: [{ key: 'x-team', value: 'blue' }] },
  { headerMap: [{ key: 'x-team', value: 'green' }, { key: 'x-team', value: 'green' }, { key: 'x-legacy', rawValue: Buffer.from('1').toString('base64') }] },
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

describe("the rules library's input document", () => {
  let compiled: CompiledRulesFile;
  let decide: Policy;
  let explain: Policy;
  beforeAll(async () => {
    const file = join(makeTempDir('meshwarden-rules-input-'), 'rules.yaml');
    writeFileSync(file, RULES);
    compiled = compileRulesFile(file, trustDomains);
    decide = await loadRulesLibrary(compiled, RULES_DECISION);
    explain = await loadRulesLibrary(compiled, RULES_EXPLAIN);
  });

  it('holds the headers, query parameters and context extensions the rules name, and is much smaller', () => {
    expect(decide.inputWriter).toBe(compiled.writer);
    expect(compiled.names).toEqual({ headers: new Set([':authority', 'x-team', 'x-legacy']), query: new Set(['format']), context: new Set(['route']) });
    const c: Case = { source: SOURCES[0]!, destination: data, ...OPERATIONS[1], ...EXTRAS[3], headers: { 'x-team': 'blue', 'user-agent': 'curl/8' } };
    const rules = JSON.parse(documentOf(c, compiled.names)) as { attributes: { request: { http: { headers: object } }; contextExtensions: object }; parsed_query: object };
    expect(rules.attributes.request.http.headers).toEqual({ ':authority': 'DATA.data.svc.cluster.local.', 'x-team': 'blue' });
    expect(rules.parsed_query).toEqual({ format: ['csv'] });
    expect(rules.attributes.contextExtensions).toEqual({ route: 'write-route' });
    expect(documentOf(c, compiled.names).length).toBeLessThan(documentOf(c).length * 0.6);
  });

  it('picks the named entries, whether a file names a few or many', () => {
    const attributes = attributesOf({ source: SOURCES[0]!, destination: data, method: 'GET', path: '/', host: 'h', headers: { 'x-1': 'one', 'x-7': 'seven', 'x-other': 'no' } });
    for (const [count, expected] of [
      [2, { 'x-1': 'one' }],
      [40, { 'x-1': 'one', 'x-7': 'seven' }],
    ] as const) {
      const names = new Set(['__proto__', 'constructor', ...Array.from({ length: count }, (_, i) => `x-${i}`)]);
      const rules: RulesInputNames = { headers: names, query: new Set(), context: new Set() };
      const document = JSON.parse(buildInput(attributes, { skipBodyParse: false, writer: createRulesInputWriter(rules) }).json) as { attributes: { request: { http: { headers: object } } } };
      expect(document.attributes.request.http.headers, `${count} names`).toEqual(expected);
    }
  });

  it('is refused for the same bad requests as the full document, with the same reason', () => {
    const bad: Partial<Case>[] = [
      { path: '/api/%zz' },
      { path: '/api/v1/data?a=1;b=2' },
      { path: '/api/v1/data?a=%G1' },
      { method: 'POST', path: '/api/v1/items', headers: { 'content-type': 'application/json' } },
      { method: 'POST', path: '/api/v1/items', headers: { 'content-type': 'application/json', 'content-length': 'ten' } },
    ];
    for (const extra of bad) {
      const c: Case = { source: SOURCES[0]!, destination: data, method: 'GET', host: 'h', ...extra };
      const attributes = attributesOf(c);
      const http = attributes.request!.http!;
      if (c.method === 'POST') http.body = '{"broken": ';
      const failure = (rules?: RulesInputNames): unknown => failureOf(() => buildInput(attributes, { skipBodyParse: false, writer: rules && createRulesInputWriter(rules) }));
      expect(failure(compiled.names), JSON.stringify(extra)).toEqual(failure());
      expect(failure(), JSON.stringify(extra)).toBe('request_parse_error');
    }
  });

  it('holds, for every `input.` reference of authz.rego, the value the full document has there', () => {
    const rego = readFileSync(join(ROOT, 'policies', 'rules', 'authz.rego'), 'utf8').replace(/#.*$/gm, '');
    // reference → whether the Rego indexes into it (input.x.y[name])
    const references = new Map<string, boolean>();
    for (const match of rego.matchAll(/\binput\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(\[)?/g)) {
      references.set(match[1]!, (references.get(match[1]!) ?? false) || match[2] === '[');
    }
    expect(references.size).toBeGreaterThan(15);
    // Maps the Rego indexes by name: the projection keeps the names the rules use (the rest must be whole).
    const named: Record<string, ReadonlySet<string>> = {
      'attributes.request.http.headers': compiled.names.headers,
      parsed_query: compiled.names.query,
      'attributes.contextExtensions': compiled.names.context,
    };
    // The one reference the projection leaves out: a fallback for documents without input.destination.port,
    // which the rules document always has (src/identity/identity.ts takes it from the same address).
    const fallbacks: Record<string, string> = { 'attributes.destination.address.socketAddress.portValue': 'destination.port' };
    const at = (document: unknown, path: string): unknown =>
      path.split('.').reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), document);
    let compared = 0;
    for (const c of CASES.filter((_, index) => index % 7 === 0)) {
      const full = JSON.parse(documentOf(c)) as unknown;
      const rules = JSON.parse(documentOf(c, compiled.names)) as unknown;
      for (const [reference, indexed] of references) {
        const fallback = fallbacks[reference];
        const names = named[reference];
        if (reference === 'attributes.request.http.headerMap.headers') {
          // The full document keeps header_map apart (as opa-envoy-plugin does), and the library reads it when
          // `headers` lacks a name; the rules document has those entries folded into `headers` already.
          expect(at(rules, reference), reference).toBeUndefined();
        } else if (fallback !== undefined) {
          expect(at(rules, fallback), reference).toEqual(at(full, reference) ?? null);
        } else if (indexed && names !== undefined) {
          const projected = at(rules, reference) as Record<string, unknown> | undefined;
          // Headers as every stage sees them: with header_map's entries folded in (request/header-map.ts).
          const whole = (reference === 'attributes.request.http.headers' ? withHeaderMap(attributesOf(c)).request?.http?.headers : at(full, reference)) as Record<string, unknown> | undefined;
          for (const name of names) expect(projected?.[name], `${reference}[${name}]`).toEqual(whole?.[name]);
          for (const name of Object.keys(projected ?? {})) expect(names.has(name), `${reference}[${name}] is not named by a rule`).toBe(true);
        } else {
          expect(at(rules, reference), reference).toEqual(at(full, reference));
        }
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it(`decides and explains ${CASES.length} requests exactly as with the full document`, () => {
    const outcomes = new Set<string>();
    for (const c of CASES) {
      const full = documentOf(c);
      const rules = documentOf(c, compiled.names);
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
