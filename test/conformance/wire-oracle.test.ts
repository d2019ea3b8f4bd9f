// The wire check (src/envoy/wire-check.ts) against a real Go protobuf decoder: the opa-envoy-plugin binary,
// whose grpc-go server unmarshals every CheckRequest with google.golang.org/protobuf before anything else
// and answers INTERNAL ("grpc: error unmarshalling request") when it cannot. Mutated requests (the fuzz's
// generator, another seed) and hand-made ones go to it; every one Go refuses, the wire check must refuse too
// (it is stricter on purpose: a wrong wire type or a repeated singular field, which Go reads otherwise than
// protobufjs, are refused too). The figures are printed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWireChecker } from '../../src/envoy/wire-check.js';
import { createRandom, mutate, MUTATION_KINDS } from '../helpers/mutate.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest } from '../helpers/server.js';
import { startOpaEnvoyPlugin, type RunningServer } from './oep/processes.js';
import { findOpaEnvoyPlugin } from './oep/runner.js';
import { encodeCheckRequest, envoyRoot, RawCheckClient } from './oep/wire.js';

const binary = findOpaEnvoyPlugin();
const MUTATED_CASES = 10_000;
const GRPC_INTERNAL = 13;

const conformant = createWireChecker(envoyRoot().lookupType('envoy.service.auth.v3.CheckRequest'));

function seeds(): Buffer[] {
  const allowed = { source: ANALYTICS, destination: DATA_SERVICE, method: 'GET', path: '/api/v1/data?x=1' };
  const withMetadata = httpCheckRequest({ ...allowed, headers: { 'content-type': 'application/json' }, body: '{"a":1}' }) as { attributes: Record<string, unknown> };
  withMetadata.attributes['metadataContext'] = { filterMetadata: { f: { fields: { s: { stringValue: 'v' }, l: { listValue: { values: [{ numberValue: 1 }, { nullValue: 0 }] } } } } } };
  withMetadata.attributes['contextExtensions'] = { k: 'v' };
  return [httpCheckRequest(allowed), httpCheckRequest({ ...allowed, method: 'POST', headers: { 'x-a': 'b' } }), withMetadata].map((request) => encodeCheckRequest(request));
}

// Hand-made: each kind of malformation the wire check names (see test/unit/envoy/wire-check.test.ts).
const HANDMADE: readonly [string, number[]][] = [
  ['length past the end', [0x0a, 0x05, 0x01]],
  ['length past the enclosing message', [0x0a, 0x04, 0x22, 0x05, 0x12, 0x01, 0x41, 0, 0, 0, 0]],
  ['truncated varint', [0x10, 0xff]],
  ['11-byte varint', [0x10, ...Array(10).fill(0xff), 0x01]],
  ['varint over 64 bits', [0x10, ...Array(9).fill(0xff), 0x02]],
  ['field number 0', [0x02, 0x00]],
  ['wire type 7', [0x17, 0x00]],
  ['wire type 6', [0x16]],
  ['end group without start', [0x14]],
  ['group without end', [0xa3, 0x06, 0x08, 0x01]],
  ['invalid UTF-8 in method', [0x0a, 0x09, 0x22, 0x07, 0x12, 0x05, 0x12, 0x03, 0x47, 0xc3, 0x28]],
  ['invalid UTF-8 in principal', [0x0a, 0x07, 0x0a, 0x05, 0x2a, 0x03, 0xed, 0xb0, 0x80]],
  ['attributes twice (valid protobuf)', [0x0a, 0x00, 0x0a, 0x00]],
  ['wrong wire type for a string (valid for Go: an unknown field)', [0x0a, 0x06, 0x22, 0x04, 0x12, 0x02, 0x20, 0x05]],
];

if (binary === undefined) {
  describe('the wire check against Go (opa-envoy-plugin)', () => {
    it.skip('SKIPPED: opa-envoy-plugin binary absent (.tools/bin/opa-envoy-plugin)', () => {});
  });
} else {
  describe('the wire check against Go (opa-envoy-plugin)', () => {
    let oep: RunningServer;
    let client: RawCheckClient;

    beforeAll(async () => {
      oep = await startOpaEnvoyPlugin(binary, { 'policy.rego': 'package envoy.authz\n\nallow := true\n' }, 'envoy/authz/allow');
      client = new RawCheckClient(oep.grpcAddress);
    }, 100_000);

    afterAll(async () => {
      client?.close();
      await oep?.stop();
    });

    /** Go refuses the bytes: the gRPC server could not unmarshal them. */
    async function goRefuses(bytes: Buffer): Promise<boolean> {
      const outcome = await client.check(bytes, 10_000);
      if (!('rpcError' in outcome)) return false;
      if (outcome.rpcError.code === GRPC_INTERNAL && /unmarshal/i.test(outcome.rpcError.details)) return true;
      throw new Error(`opa-envoy-plugin answered an unexpected RPC error: ${outcome.rpcError.code} ${outcome.rpcError.details}`);
    }

    it('refuses every hand-made case Go refuses, and says which it refuses beyond Go', async () => {
      const rows = await Promise.all(HANDMADE.map(async ([name, bytes]) => ({ name, go: await goRefuses(Buffer.from(bytes)), ours: conformant(Buffer.from(bytes)) !== undefined })));
      console.log(JSON.stringify({ handmade: rows }));
      expect(rows.filter((row) => row.go && !row.ours).map((row) => row.name)).toEqual([]);
      expect(rows.every((row) => row.ours)).toBe(true);
    });

    it(`refuses every one of ${MUTATED_CASES} mutated requests Go refuses`, { timeout: 120_000 }, async () => {
      const random = createRandom(1313);
      const pool = seeds();
      const cases = Array.from({ length: MUTATED_CASES }, () => {
        const kind = MUTATION_KINDS[Math.floor(random() * MUTATION_KINDS.length)]!;
        return mutate(random, pool[Math.floor(random() * pool.length)]!, pool[Math.floor(random() * pool.length)]!, kind);
      });
      const tally = { both: 0, onlyOurs: 0, onlyGo: 0, neither: 0 };
      const missed: string[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < cases.length) {
            const bytes = cases[next++]!;
            const go = await goRefuses(bytes);
            const ours = conformant(bytes) !== undefined;
            if (go && ours) tally.both++;
            else if (ours) tally.onlyOurs++;
            else if (go) {
              tally.onlyGo++;
              missed.push(bytes.toString('hex'));
            } else tally.neither++;
          }
        }),
      );
      console.log(JSON.stringify({ wire_oracle: { cases: MUTATED_CASES, ...tally } }));
      expect(missed.slice(0, 5)).toEqual([]);
      expect(tally.both).toBeGreaterThan(MUTATED_CASES / 10);
      expect(tally.neither).toBeGreaterThan(0);
    });
  });
}
