// --source-principal-metadata over gRPC with the embedded default rules (analytics may GET /api/v1/data): the
// source principal from the CheckRequest's filter_metadata, as a waypoint's Envoy would send it when a filter
// the operator configured wrote it there; taken only when source.principal is empty, never from a header.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/temp.js';
import { compileRego } from '../helpers/policies.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type CheckResponseObject, type TestServer } from '../helpers/server.js';
import { structToJson } from '../helpers/struct.js';
import { toStruct } from '../../src/envoy/struct.js';

const SETTING = 'meshwarden.peer:source_principal';
const DEFAULT_SA = 'spiffe://cluster.local/ns/default/sa/default';
const ECHO = 'package envoy.authz\nallow := {"allowed": true, "dynamic_metadata": {"source": input.source}}\n';

let rules: TestServer; // the embedded default rules, reading the metadata path
let off: TestServer; // the same rules, the setting left off
let echo: TestServer; // a Rego policy that shows input.source
let waypoint: TestServer; // rules written for a waypoint: the destination by host, since its principal is not sent

// At a waypoint destination.principal is empty too (the upstream endpoint is picked after ext_authz), so a rule
// there names the destination by host, not by `to: principals`.
const WAYPOINT_RULES = `rules:
  - name: analytics-reads-data-via-waypoint
    action: ALLOW
    from: [{principals: [cluster.local/ns/analytics/sa/analytics]}]
    operations: [{hosts: [data.data.svc.cluster.local:8080], methods: [GET], paths: [/api/v1/data]}]
`;

beforeAll(async () => {
  const rulesFile = join(makeTempDir('meshwarden-waypoint-rules-'), 'rules.yaml');
  writeFileSync(rulesFile, WAYPOINT_RULES);
  [rules, off, echo, waypoint] = await Promise.all([
    startTestServer(['--source-principal-metadata', SETTING]),
    startTestServer([]),
    startTestServer(['--bundle', compileRego(ECHO)], { MESHWARDEN_SOURCE_PRINCIPAL_METADATA: SETTING }),
    startTestServer(['--rules', rulesFile, '--source-principal-metadata', SETTING]),
  ]);
});

afterAll(async () => {
  await Promise.all([rules, off, echo, waypoint].map((server) => server.stop()));
});

/** GET /api/v1/data as a waypoint sends it: no source.principal, the principal (if any) in filter_metadata. */
function waypointRequest(options: { metadata?: Record<string, unknown>; principal?: string; headers?: Record<string, string>; destination?: string | undefined } = {}): Record<string, unknown> {
  const destination = 'destination' in options ? options.destination : DATA_SERVICE;
  const request = httpCheckRequest({ source: options.principal, destination, path: '/api/v1/data', headers: options.headers });
  if (options.metadata !== undefined) {
    const filterMetadata = Object.fromEntries(Object.entries(options.metadata).map(([namespace, value]) => [namespace, toStruct(value as Record<string, unknown>)]));
    (request['attributes'] as Record<string, unknown>)['metadataContext'] = { filterMetadata };
  }
  return request;
}

const peer = (principal: unknown): Record<string, unknown> => ({ 'meshwarden.peer': { source_principal: principal } });

function reasonOf(response: CheckResponseObject): string {
  return structToJson(response.dynamicMetadata)['reason'] as string;
}

function expectAllowed(response: CheckResponseObject): void {
  expect(response.status?.code ?? 0).toBe(0);
  expect(response.deniedResponse).toBeUndefined();
}

function expectDenied(response: CheckResponseObject, reason: string): void {
  expect(response.status.code).toBe(7);
  expect(response.deniedResponse.status.code).toBe('Forbidden');
  expect(reasonOf(response)).toBe(reason);
}

describe('--source-principal-metadata', () => {
  it('allows the allowed identity carried in the metadata, and the policy sees it as authenticated, via metadata', async () => {
    expectAllowed(await rules.client.check(waypointRequest({ metadata: peer(ANALYTICS) })));
    const source = structToJson((await echo.client.check(waypointRequest({ metadata: peer(ANALYTICS) }))).dynamicMetadata)['source'];
    expect(source).toMatchObject({ principal: ANALYTICS, spiffe_id: ANALYTICS, namespace: 'analytics', authenticated: true, via: 'metadata' });
  });

  it('denies another identity in the metadata by the rules (not a refusal)', async () => {
    expectDenied(await rules.client.check(waypointRequest({ metadata: peer(DEFAULT_SA) })), 'no_allow_rule_matched');
  });

  it('denies when the metadata is absent: no namespace, another namespace, no key, an empty value', async () => {
    for (const metadata of [undefined, { 'envoy.filters.http.jwt_authn': { source_principal: ANALYTICS } }, { 'meshwarden.peer': { other: ANALYTICS } }, peer('')]) {
      expectDenied(await rules.client.check(waypointRequest({ metadata })), 'no_allow_rule_matched');
    }
  });

  it('denies an identity of a trust domain not accepted', async () => {
    expectDenied(await rules.client.check(waypointRequest({ metadata: peer('spiffe://evil.example/ns/analytics/sa/analytics') })), 'no_allow_rule_matched');
    const source = structToJson((await echo.client.check(waypointRequest({ metadata: peer('spiffe://evil.example/ns/analytics/sa/analytics') }))).dynamicMetadata)['source'];
    expect(source).toMatchObject({ trust_domain: 'evil.example', authenticated: false });
  });

  it('denies a malformed value with malformed_metadata_principal before any policy runs, the cause only in the log', async () => {
    for (const value of ['-', 'cluster.local/ns/analytics/sa/analytics', 'spiffe://Cluster.local/ns/analytics/sa/analytics', 42, true, [ANALYTICS], { id: ANALYTICS }]) {
      const response = await rules.client.check(waypointRequest({ metadata: peer(value) }));
      expectDenied(response, 'malformed_metadata_principal');
      expect(JSON.stringify(response)).not.toContain('SPIFFE');
      // Even a policy that allows everything does not run.
      expectDenied(await echo.client.check(waypointRequest({ metadata: peer(value) })), 'malformed_metadata_principal');
    }
    const line = rules.logs.filter((entry) => entry.msg === 'decision').at(-1)!;
    expect(line).toMatchObject({ allowed: false, reason: 'malformed_metadata_principal' });
    expect(String(line['error'])).toContain('--source-principal-metadata');
  });

  it('ignores a header claiming the identity, whatever its name (the metadata is the only place read)', async () => {
    const headers = { 'x-forwarded-client-cert': `By=${DATA_SERVICE};URI=${ANALYTICS}`, 'x-meshwarden-source-principal': ANALYTICS, 'meshwarden.peer': ANALYTICS, source_principal: ANALYTICS };
    expectDenied(await rules.client.check(waypointRequest({ headers })), 'no_allow_rule_matched');
    expectDenied(await rules.client.check(waypointRequest({ headers, metadata: peer(DEFAULT_SA) })), 'no_allow_rule_matched');
  });

  it('lets source.principal win when Envoy set it: the metadata is not read then (not even when malformed)', async () => {
    expectAllowed(await rules.client.check(waypointRequest({ principal: ANALYTICS, metadata: peer(DEFAULT_SA) })));
    expectDenied(await rules.client.check(waypointRequest({ principal: DEFAULT_SA, metadata: peer(ANALYTICS) })), 'no_allow_rule_matched');
    expectAllowed(await rules.client.check(waypointRequest({ principal: ANALYTICS, metadata: peer('-') })));
  });

  it('is off by default: the same metadata is not an identity', async () => {
    expectDenied(await off.client.check(waypointRequest({ metadata: peer(ANALYTICS) })), 'no_allow_rule_matched');
  });

  it('decides a waypoint-shaped request (no principal on either side) with rules that name the destination by host', async () => {
    const asWaypoint = (metadata?: Record<string, unknown>) => waypointRequest({ destination: undefined, ...(metadata === undefined ? {} : { metadata }) });
    expectAllowed(await waypoint.client.check(asWaypoint(peer(ANALYTICS))));
    for (const denied of [undefined, peer(DEFAULT_SA), peer('spiffe://evil.example/ns/analytics/sa/analytics')]) {
      expect((await waypoint.client.check(asWaypoint(denied))).status.code).toBe(7);
    }
    expectDenied(await waypoint.client.check(asWaypoint(peer('-'))), 'malformed_metadata_principal');
    const line = waypoint.logs.filter((entry) => entry.msg === 'decision').find((entry) => entry.allowed === true)!;
    expect(line).toMatchObject({ source_principal: ANALYTICS, destination_principal: '', rule: 'analytics-reads-data-via-waypoint' });
  });
});
