// Issue 13 (hardening), over real sockets: what a caller sends cannot make the server keep it (caches bounded
// in bytes), and requests over the path and header limits are denied before any policy with their reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_CACHE_MAX_BYTES, identityCacheUsage } from '../../src/identity/identity.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.stop();
});

function reasonOf(response: Record<string, any>): string | undefined {
  return response['dynamicMetadata']?.fields?.reason?.stringValue;
}

describe('caches bounded in bytes, over gRPC', () => {
  it('1,000 distinct 1 MiB principals are all denied and none is kept', { timeout: 120_000 }, async () => {
    const before = identityCacheUsage().principals.bytes;
    const CONCURRENCY = 8;
    let next = 0;
    const reasons = new Map<string, number>();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < 1000) {
          const i = next++;
          const principal = `spiffe://cluster.local/ns/attacker-${i}/sa/` + 'p'.repeat(1024 * 1024);
          const response = await server.client.check(httpCheckRequest({ source: principal, destination: DATA_SERVICE, path: '/api/v1/data' }), { deadlineMs: 30_000 });
          expect(response['status']?.code).toBe(7);
          const reason = reasonOf(response) ?? '?';
          reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        }
      }),
    );
    expect(Object.fromEntries(reasons)).toEqual({ no_allow_rule_matched: 1000 });
    const after = identityCacheUsage().principals.bytes;
    expect(after).toBeLessThanOrEqual(IDENTITY_CACHE_MAX_BYTES);
    expect(after - before).toBeLessThan(64 * 1024); // the few real principals of the other calls at most
    // The real caller is still allowed.
    const allowed = await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data' }));
    expect(allowed['status']?.code ?? 0).toBe(0);
  });
});
