// Fuzz (issue 13): mutated CheckRequests over a real socket to a real server with the default rules. The
// oracle is a conformant decoder (src/envoy/wire-check.ts, cross-checked against Go's in
// test/conformance/wire-oracle.test.ts) plus a model of the default rules read from what that decoder sees.
// Asserted: no allow for bytes the oracle calls malformed or a request the rules must deny, no RPC error, no
// hang (every call answered within its deadline). `npm test` runs a smoke size; `npm run fuzz` runs 20,000+
// (FUZZ_CASES, FUZZ_SEED pick the size and the seed; the figures are printed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWireChecker } from '../../src/envoy/wire-check.js';
import { encodeCheckRequest, envoyRoot, RawCheckClient } from '../conformance/oep/wire.js';
import { createRandom, mutate, MUTATION_KINDS, type MutationKind } from '../helpers/mutate.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';

const CASES = Number(process.env['FUZZ_CASES'] ?? 2000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 13);
const CONCURRENCY = 16;
const DEADLINE_MS = 10_000;

const CheckRequest = envoyRoot().lookupType('envoy.service.auth.v3.CheckRequest');
const conformant = createWireChecker(CheckRequest);

/** Valid requests to mutate: the allowed one in several shapes, and requests the rules deny. */
function seeds(): Buffer[] {
  const allowed = { source: ANALYTICS, destination: DATA_SERVICE, method: 'GET', path: '/api/v1/data' };
  const requests = [
    httpCheckRequest(allowed),
    httpCheckRequest({ ...allowed, path: '/api/v1/data?from=2026-01-01&x=%41' }),
    httpCheckRequest({ ...allowed, headers: { 'content-type': 'application/json', 'x-team': 'blue' }, body: '{"a":[1,2,{"b":null}]}' }),
    httpCheckRequest({ ...allowed, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=%20' }),
    httpCheckRequest({ ...allowed, method: 'POST' }),
    httpCheckRequest({ ...allowed, path: '/api/v1/data/../admin' }),
    httpCheckRequest({ ...allowed, path: '/api/v1/%64ata' }),
    httpCheckRequest({ ...allowed, source: 'spiffe://cluster.local/ns/analytics/sa/default' }),
    httpCheckRequest({ ...allowed, source: 'spiffe://evil.example/ns/analytics/sa/analytics' }),
    httpCheckRequest({ method: 'GET', path: '/api/v1/data', headers: { 'x-forwarded-client-cert': `By=${DATA_SERVICE};URI=${ANALYTICS}`, 'x-spiffe-id': ANALYTICS } }),
  ];
  const withMetadata = httpCheckRequest(allowed) as { attributes: Record<string, unknown> };
  withMetadata.attributes['metadataContext'] = { filterMetadata: { 'envoy.filters.http.jwt_authn': { fields: { sub: { stringValue: 'alice' }, n: { numberValue: 3 }, l: { listValue: { values: [{ boolValue: true }] } } } } } };
  withMetadata.attributes['contextExtensions'] = { team: 'blue', 'x-tenant': 'a' };
  requests.push(withMetadata);
  return requests.map((request) => encodeCheckRequest(request));
}

/** Whether the default rules may allow the request as the conformant decoder reads it (a superset of what they allow). */
function rulesMayAllow(bytes: Buffer): boolean {
  // The decoded message itself (its toObject throws on some Struct values, e.g. a map entry without a value).
  const decoded = CheckRequest.decode(bytes) as unknown as {
    attributes?: { source?: { principal?: string; certificate?: string }; destination?: { principal?: string }; request?: { http?: { method?: string; path?: string } } };
  };
  const attributes = decoded.attributes;
  const http = attributes?.request?.http;
  return (
    attributes?.source?.principal === ANALYTICS &&
    !attributes.source.certificate &&
    attributes.destination?.principal === DATA_SERVICE &&
    http?.method === 'GET' &&
    (http.path ?? '').split('?')[0] === '/api/v1/data'
  );
}

interface Tally {
  cases: number;
  malformed: number;
  allowed: number;
  mayAllow: number;
  violations: string[];
  rpcErrors: string[];
  hangs: number;
  reasons: Record<string, number>;
  byMutation: Record<string, { cases: number; malformed: number }>;
  maxMs: number;
}

let server: TestServer;
let client: RawCheckClient;

beforeAll(async () => {
  server = await startTestServer();
  client = new RawCheckClient(server.address);
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

describe(`fuzz: ${CASES} mutated CheckRequests against the default rules (seed ${SEED})`, () => {
  it('no allow outside the oracle, no RPC error, no hang', { timeout: Math.max(60_000, CASES * 20) }, async () => {
    const random = createRandom(SEED);
    const pool = seeds();
    for (const seed of pool) expect(conformant(seed)).toBeUndefined();
    const tally: Tally = { cases: 0, malformed: 0, allowed: 0, mayAllow: 0, violations: [], rpcErrors: [], hangs: 0, reasons: {}, byMutation: {}, maxMs: 0 };
    const pending: { bytes: Buffer; kind: MutationKind | 'seed' }[] = [];
    for (let i = 0; i < CASES; i++) {
      if (i < pool.length) {
        pending.push({ bytes: pool[i]!, kind: 'seed' });
        continue;
      }
      const kind = MUTATION_KINDS[Math.floor(random() * MUTATION_KINDS.length)]!;
      const seed = pool[Math.floor(random() * pool.length)]!;
      let bytes = mutate(random, seed, pool[Math.floor(random() * pool.length)]!, kind);
      // Now and then a second mutation on top of the first.
      if (random() < 0.25) bytes = mutate(random, bytes, seed, MUTATION_KINDS[Math.floor(random() * MUTATION_KINDS.length)]!);
      pending.push({ bytes, kind });
    }
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < pending.length) {
          const { bytes, kind } = pending[next++]!;
          const malformed = conformant(bytes) !== undefined;
          const mayAllow = !malformed && rulesMayAllow(bytes);
          const sent = Date.now();
          const outcome = await client.check(bytes, DEADLINE_MS);
          tally.maxMs = Math.max(tally.maxMs, Date.now() - sent);
          tally.cases++;
          const entry = (tally.byMutation[kind] ??= { cases: 0, malformed: 0 });
          entry.cases++;
          if (malformed) {
            tally.malformed++;
            entry.malformed++;
          }
          if (mayAllow) tally.mayAllow++;
          if ('rpcError' in outcome) {
            if (outcome.rpcError.code === 4) tally.hangs++;
            else tally.rpcErrors.push(`${outcome.rpcError.code} ${outcome.rpcError.details}: ${bytes.toString('hex').slice(0, 200)}`);
            continue;
          }
          const response = outcome.response;
          const allowed = (response['status']?.code ?? 0) === 0;
          const reason = response['dynamicMetadata']?.fields?.reason?.stringValue ?? '(none)';
          tally.reasons[reason] = (tally.reasons[reason] ?? 0) + 1;
          if (allowed) tally.allowed++;
          if (allowed && !mayAllow) tally.violations.push(`${malformed ? 'malformed' : 'must deny'} but allowed (${kind}): ${bytes.toString('hex').slice(0, 400)}`);
          if (malformed && reason !== 'malformed_request') tally.violations.push(`malformed but answered ${reason} (${kind}): ${bytes.toString('hex').slice(0, 400)}`);
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      JSON.stringify({ fuzz: { cases: tally.cases, seed: SEED, seconds, malformed: tally.malformed, allowed: tally.allowed, may_allow: tally.mayAllow, violations: tally.violations.length, rpc_errors: tally.rpcErrors.length, hangs: tally.hangs, slowest_ms: tally.maxMs, reasons: tally.reasons, by_mutation: tally.byMutation } }, null, 1),
    );
    expect(tally.cases).toBe(CASES);
    expect(tally.violations.slice(0, 5)).toEqual([]);
    expect(tally.rpcErrors.slice(0, 5)).toEqual([]);
    expect(tally.hangs).toBe(0);
    // The run meant something: malformed and well-formed cases both, and allowed ones among the latter.
    expect(tally.malformed).toBeGreaterThan(CASES / 10);
    expect(tally.allowed).toBeGreaterThan(0);
  });
});
