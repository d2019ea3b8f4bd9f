import { describe, expect, it } from 'vitest';
import { compileRules, destinationKeys, expandPrincipal, expandTrustDomain, toDataDocument } from '../../../src/rules/compile.js';
import { parseRules, readRulesFile } from '../../../src/rules/parse.js';
import { createTrustDomains } from '../../../src/identity/spiffe.js';

const CLUSTER = createTrustDomains({ local: 'cluster.local' });
const MIGRATING = createTrustDomains({ local: 'new.example', aliases: ['old.example'], federated: ['partner.example'] });

const source = (fields: Record<string, string[]> = {}) => ({
  principals: [],
  not_principals: [],
  namespaces: [],
  not_namespaces: [],
  service_accounts: [],
  not_service_accounts: [],
  trust_domains: [],
  not_trust_domains: [],
  ...fields,
});
const operation = (fields: Record<string, unknown> = {}) => ({
  methods: [],
  not_methods: [],
  paths: [],
  not_paths: [],
  hosts: [],
  not_hosts: [],
  ports: [],
  not_ports: [],
  ...fields,
});

describe('compileRules: the examples, exactly', () => {
  it('regulated-data.yaml (scenario 1)', () => {
    const rule = {
      name: 'analytics-reads-data',
      action: 'ALLOW',
      shadow: false,
      from: [source({ principals: ['spiffe://cluster.local/ns/analytics/sa/analytics'] })],
      operations: [operation({ methods: ['GET'], paths: [{ exact: '/api/v1/data' }] })],
      when: [],
    };
    const compiled = compileRules(readRulesFile('examples/rules/regulated-data.yaml'), CLUSTER);
    expect(compiled).toEqual({
      default_allow: false,
      by_destination: { 'principal:spiffe://cluster.local/ns/data/sa/data': { allow: [rule], deny: [] } },
      any_destination: { allow: [], deny: [] },
    });
    expect(toDataDocument(compiled)).toEqual({ meshwarden: { rules: compiled } });
  });

  it('default-deny-frontend.yaml (scenario 2)', () => {
    expect(compileRules(readRulesFile('examples/rules/default-deny-frontend.yaml'), CLUSTER)).toEqual({
      default_allow: false,
      by_destination: {
        'service_account:prop/prop': {
          allow: [
            {
              name: 'frontend-calls-prop',
              action: 'ALLOW',
              shadow: false,
              from: [source({ principals: ['spiffe://cluster.local/ns/frontend/sa/frontend'] })],
              operations: [operation({ methods: ['GET', 'POST'], paths: [{ prefix: '/api/' }] })],
              when: [],
            },
          ],
          deny: [
            {
              name: 'prop-admin-never-remote',
              action: 'DENY',
              shadow: false,
              from: [],
              operations: [operation({ paths: [{ exact: '/api/admin' }, { prefix: '/api/admin/' }] })],
              when: [],
            },
          ],
        },
      },
      any_destination: { allow: [], deny: [] },
    });
  });

  it('eu-only.yaml (scenario 3)', () => {
    const trustDomains = createTrustDomains({ local: 'eu-central.mesh.example', federated: ['us-east.mesh.example'] });
    expect(compileRules(readRulesFile('examples/rules/eu-only.yaml'), trustDomains)).toEqual({
      default_allow: false,
      by_destination: {
        'namespace:customers': {
          allow: [
            {
              name: 'eu-callers-read-customers',
              action: 'ALLOW',
              shadow: false,
              from: [source({ trust_domains: ['eu-central.mesh.example'], namespaces: ['billing', 'support'] })],
              operations: [operation({ methods: ['GET'], paths: [{ prefix: '/customers/' }] })],
              when: [],
            },
          ],
          deny: [],
        },
      },
      any_destination: { allow: [], deny: [] },
    });
  });

  it('authenticated-only.yaml (scenario 4)', () => {
    expect(compileRules(readRulesFile('examples/rules/authenticated-only.yaml'), CLUSTER)).toEqual({
      default_allow: false,
      by_destination: {
        'service_account:default/service-b': {
          allow: [
            {
              name: 'service-a-calls-service-b',
              action: 'ALLOW',
              shadow: false,
              from: [source({ principals: ['spiffe://cluster.local/ns/default/sa/service-a'] })],
              operations: [operation({ methods: ['GET', 'POST'], paths: [{ prefix: '/v1/' }] })],
              when: [],
            },
          ],
          deny: [],
        },
      },
      any_destination: { allow: [], deny: [] },
    });
  });

  it('shadow-rollout.yaml (scenario 5)', () => {
    expect(compileRules(readRulesFile('examples/rules/shadow-rollout.yaml'), CLUSTER)).toEqual({
      default_allow: false,
      by_destination: {
        'namespace:orders': {
          allow: [
            {
              name: 'callers-use-orders',
              action: 'ALLOW',
              shadow: false,
              from: [source({ namespaces: ['frontend', 'batch'] })],
              operations: [operation({ paths: [{ exact: '/orders' }, { prefix: '/orders/' }] })],
              when: [],
            },
          ],
          deny: [
            {
              name: 'batch-stops-writing-orders',
              action: 'DENY',
              shadow: true,
              from: [source({ service_accounts: ['batch/batch-writer'] })],
              operations: [operation({ not_methods: ['GET', 'HEAD'] })],
              when: [],
            },
          ],
        },
      },
      any_destination: { allow: [], deny: [] },
    });
  });

  it('serialises every list, in the contract field order', () => {
    const json = JSON.stringify(compileRules(readRulesFile('examples/rules/regulated-data.yaml'), CLUSTER));
    expect(json).toBe(
      '{"default_allow":false,"by_destination":{"principal:spiffe://cluster.local/ns/data/sa/data":{"allow":[{"name":"analytics-reads-data","action":"ALLOW","shadow":false,' +
        '"from":[{"principals":["spiffe://cluster.local/ns/analytics/sa/analytics"],"not_principals":[],"namespaces":[],"not_namespaces":[],"service_accounts":[],"not_service_accounts":[],"trust_domains":[],"not_trust_domains":[]}],' +
        '"operations":[{"methods":["GET"],"not_methods":[],"paths":[{"exact":"/api/v1/data"}],"not_paths":[],"hosts":[],"not_hosts":[],"ports":[],"not_ports":[]}],"when":[]}],"deny":[]}},' +
        '"any_destination":{"allow":[],"deny":[]}}',
    );
  });
});

describe('cluster.local: the local trust domain and every alias', () => {
  it('expands cluster.local, the local name and each alias to all of them; others stay as written', () => {
    for (const name of ['cluster.local', 'new.example', 'old.example']) expect(expandTrustDomain(name, MIGRATING)).toEqual(['new.example', 'old.example']);
    expect(expandTrustDomain('partner.example', MIGRATING)).toEqual(['partner.example']);
    expect(expandTrustDomain('cluster.local', CLUSTER)).toEqual(['cluster.local']);
    expect(expandPrincipal('cluster.local/ns/a/sa/b', MIGRATING)).toEqual(['spiffe://new.example/ns/a/sa/b', 'spiffe://old.example/ns/a/sa/b']);
    expect(expandPrincipal('partner.example/ns/a/sa/b', MIGRATING)).toEqual(['spiffe://partner.example/ns/a/sa/b']);
  });

  it('expands principals, notPrincipals, trustDomains, notTrustDomains and destination principals, without duplicates', () => {
    const compiled = compileRules(
      parseRules(
        `rules:
  - name: r
    action: DENY
    to: {principals: [cluster.local/ns/data/sa/data, old.example/ns/data/sa/data]}
    from:
      - principals: [cluster.local/ns/a/sa/a, new.example/ns/a/sa/a, partner.example/ns/p/sa/p]
        notPrincipals: [old.example/ns/a/sa/b]
        trustDomains: [cluster.local, partner.example]
        notTrustDomains: [old.example]
`,
        'r.yaml',
      ),
      MIGRATING,
    );
    expect(Object.keys(compiled.by_destination)).toEqual(['principal:spiffe://new.example/ns/data/sa/data', 'principal:spiffe://old.example/ns/data/sa/data']);
    const rule = compiled.by_destination['principal:spiffe://new.example/ns/data/sa/data']!.deny[0]!;
    expect(rule.from).toEqual([
      source({
        principals: ['spiffe://new.example/ns/a/sa/a', 'spiffe://old.example/ns/a/sa/a', 'spiffe://partner.example/ns/p/sa/p'],
        not_principals: ['spiffe://new.example/ns/a/sa/b', 'spiffe://old.example/ns/a/sa/b'],
        trust_domains: ['new.example', 'old.example', 'partner.example'],
        not_trust_domains: ['new.example', 'old.example'],
      }),
    ]);
    expect(compiled.by_destination['principal:spiffe://old.example/ns/data/sa/data']!.deny[0]).toEqual(rule);
  });

  it('compiles a DENY\'s notPrincipals "*" to "no identity": none of the accepted trust domains', () => {
    const compile = (from: string) => compileRules(parseRules(`rules:\n  - name: r\n    action: DENY\n    from: [${from}]\n`, 'r.yaml'), MIGRATING).any_destination.deny[0]!.from[0];
    expect(compile('{notPrincipals: ["*"]}')).toEqual(source({ not_trust_domains: ['new.example', 'old.example', 'partner.example'] }));
    expect(compile('{notPrincipals: ["*", cluster.local/ns/a/sa/a], notTrustDomains: [partner.example]}')).toEqual(
      source({ not_principals: ['spiffe://new.example/ns/a/sa/a', 'spiffe://old.example/ns/a/sa/a'], not_trust_domains: ['partner.example', 'new.example', 'old.example'] }),
    );
  });

  it('compiles principals "*" to "any authenticated caller": every accepted trust domain', () => {
    const compile = (from: string) => compileRules(parseRules(`rules:\n  - name: r\n    action: ALLOW\n    from: [${from}]\n`, 'r.yaml'), MIGRATING).any_destination.allow[0]!.from[0];
    expect(compile('{principals: ["*"]}')).toEqual(source({ trust_domains: ['new.example', 'old.example', 'partner.example'] }));
    expect(compile('{principals: ["*", cluster.local/ns/a/sa/a], namespaces: [x]}')).toEqual(
      source({ namespaces: ['x'], trust_domains: ['new.example', 'old.example', 'partner.example'] }),
    );
    // trust domains already demand an identity; "*" then only lifts the principal constraint.
    expect(compile('{principals: ["*"], trustDomains: [partner.example]}')).toEqual(source({ trust_domains: ['partner.example'] }));
  });
});

describe('compileRules: hosts, conditions and indexing', () => {
  it('normalises hosts and keeps ports and conditions', () => {
    const compiled = compileRules(
      parseRules(
        `default: allow
rules:
  - name: r
    action: ALLOW
    operations:
      - hosts: [Data.Data.SVC.cluster.local.:8080, "*.Example.com.", "API.*", data.data.svc.cluster.local]
        notHosts: ["[FE80::1]:443"]
        ports: ["8080", 8080, 9090]
    when:
      - key: request.headers[X-Team]
        values: [Blue, Blue]
      - key: jwt.claims[Groups]
        notValues: [Admins]
`,
        'r.yaml',
      ),
      CLUSTER,
    );
    expect(compiled.default_allow).toBe(true);
    expect(compiled.any_destination.allow[0]).toEqual({
      name: 'r',
      action: 'ALLOW',
      shadow: false,
      from: [],
      operations: [
        operation({
          hosts: [{ exact: 'data.data.svc.cluster.local' }, { suffix: '.example.com' }, { prefix: 'api.' }],
          not_hosts: [{ exact: '[fe80::1]' }],
          ports: [8080, 9090],
        }),
      ],
      when: [
        { key: 'request.headers', name: 'x-team', values: ['Blue'], not_values: [] },
        { key: 'jwt.claims', name: 'Groups', values: [], not_values: ['Admins'] },
      ],
    });
  });

  it('places a rule under each destination key, sorted, in file order within each list', () => {
    const rules = parseRules(
      `rules:
  - name: z-allow
    action: ALLOW
    to: {serviceAccounts: [data/data], namespaces: [data, data], principals: [cluster.local/ns/data/sa/data]}
  - name: a-deny
    action: DENY
    to: {namespaces: [data]}
  - name: b-allow
    action: ALLOW
    to: {namespaces: [data, billing]}
  - name: anywhere
    action: DENY
`,
      'r.yaml',
    );
    expect(destinationKeys(rules.rules[0]!, CLUSTER)).toEqual(['principal:spiffe://cluster.local/ns/data/sa/data', 'namespace:data', 'service_account:data/data']);
    expect(destinationKeys(rules.rules[3]!, CLUSTER)).toEqual([]);
    const compiled = compileRules(rules, CLUSTER);
    const names = (set: { allow: { name: string }[]; deny: { name: string }[] }) => ({ allow: set.allow.map((r) => r.name), deny: set.deny.map((r) => r.name) });
    expect(Object.keys(compiled.by_destination)).toEqual([
      'namespace:billing',
      'namespace:data',
      'principal:spiffe://cluster.local/ns/data/sa/data',
      'service_account:data/data',
    ]);
    expect(Object.fromEntries(Object.entries(compiled.by_destination).map(([key, set]) => [key, names(set)]))).toEqual({
      'namespace:billing': { allow: ['b-allow'], deny: [] },
      'namespace:data': { allow: ['z-allow', 'b-allow'], deny: ['a-deny'] },
      'principal:spiffe://cluster.local/ns/data/sa/data': { allow: ['z-allow'], deny: [] },
      'service_account:data/data': { allow: ['z-allow'], deny: [] },
    });
    expect(names(compiled.any_destination)).toEqual({ allow: [], deny: ['anywhere'] });
  });

  it('is deterministic: the same input gives the same JSON', () => {
    const text = readRulesFile('examples/rules/shadow-rollout.yaml');
    expect(JSON.stringify(compileRules(text, MIGRATING))).toBe(JSON.stringify(compileRules(text, MIGRATING)));
  });
});
