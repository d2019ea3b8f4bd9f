// A rules file still being written is never served: the writer writes a first chunk that is valid YAML on its
// own (an ALLOW wider than the final file's, without the DENY that narrows it), pauses, then appends the DENY.
// Requests run throughout; none may be decided by the half-written file.
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { httpCheckRequest, startTestServer, type CheckResponseObject, type TestServer } from '../helpers/server.js';

const id = (ns: string): string => `spiffe://cluster.local/ns/${ns}/sa/${ns}`;
const DATA = id('data');

// Served first: only analytics reads the data service.
const OLD_RULES = `rules:
  - name: analytics-reads
    action: ALLOW
    to: {principals: [cluster.local/ns/data/sa/data]}
    from: [{principals: [cluster.local/ns/analytics/sa/analytics]}]
`;
// The new file's first chunk: valid on its own, and it would let reporting in.
const FIRST_CHUNK = `rules:
  - name: data-namespace-readers
    action: ALLOW
    to: {principals: [cluster.local/ns/data/sa/data]}
    from: [{namespaces: [analytics, reporting]}]
`;
// The rest: the DENY that keeps reporting out.
const SECOND_CHUNK = `  - name: no-reporting
    action: DENY
    from: [{namespaces: [reporting]}]
`;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function decisionOf(response: CheckResponseObject): { allowed: boolean; rule: string } {
  return { allowed: (response.status?.code ?? 0) === 0, rule: response.dynamicMetadata.fields.rule.stringValue as string };
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(25);
  }
}

describe('a rules file written slowly, in chunks', () => {
  it.each([
    ['two chunks 600 ms apart (the reported case)', [600]],
    ['the second chunk in three pieces, 400 ms apart', [400, 400, 400]],
  ])('%s: no request is decided by the partial file, then the final file is served', async (_name, pauses) => {
    const file = join(mkdtempSync(join(tmpdir(), 'meshwarden-settle-')), 'rules.yaml');
    writeFileSync(file, OLD_RULES);
    server = await startTestServer(['--rules', file, '--rules-settle-ms', '1000']);
    const running = server;
    const reporting = httpCheckRequest({ source: id('reporting'), destination: DATA, path: '/api/v1/data' });
    const analytics = httpCheckRequest({ source: id('analytics'), destination: DATA, path: '/api/v1/data' });

    let writing = true;
    const seen: { duringWrite: boolean; reporting: { allowed: boolean; rule: string }; analytics: { allowed: boolean; rule: string } }[] = [];
    const load = (async () => {
      // Bounded: at most 2,000 pairs, every 10 ms, until the write is over and the final file is served.
      for (let i = 0; i < 2000 && (writing || !running.logs.some((line) => line.msg === 'policy reloaded')); i++) {
        const duringWrite = writing;
        const [r, a] = await Promise.all([running.client.check(reporting), running.client.check(analytics)]);
        seen.push({ duringWrite, reporting: decisionOf(r), analytics: decisionOf(a) });
        await sleep(10);
      }
    })();

    writeFileSync(file, FIRST_CHUNK);
    const pieces = pauses.length === 1 ? [SECOND_CHUNK] : SECOND_CHUNK.split('\n').filter((line) => line !== '').map((line) => line + '\n');
    for (const [index, pause] of pauses.entries()) {
      await sleep(pause);
      appendFileSync(file, pieces[index]!);
    }
    writing = false;
    await waitFor(() => running.logs.some((line) => line.msg === 'policy reloaded'), 10_000);
    await load;

    // Reporting is denied by the old file (no ALLOW names it) and by the final one (its DENY); only the
    // partial file would let it in. Analytics is allowed by both, by the old rule or by the new one.
    // Requests ran while the file was half-written and while it settled (counts vary with the machine's load).
    expect(seen.filter((pair) => pair.duringWrite).length).toBeGreaterThanOrEqual(5);
    expect(seen.filter((pair) => !pair.duringWrite).length).toBeGreaterThanOrEqual(5);
    expect(seen.filter((pair) => pair.reporting.allowed)).toEqual([]);
    for (const pair of seen) {
      expect(pair.reporting.rule).toMatch(/^(default|no-reporting)$/);
      expect(pair.analytics).toEqual({ allowed: true, rule: expect.stringMatching(/^(analytics-reads|data-namespace-readers)$/) });
    }
    // The file was loaded once, whole: no reload of the partial file (nor a failed one of a torn line).
    expect(running.logs.filter((line) => line.msg === 'policy reloaded')).toHaveLength(1);
    expect(running.logs.filter((line) => line.msg.startsWith('policy reload failed'))).toEqual([]);
    expect(decisionOf(await running.client.check(reporting))).toEqual({ allowed: false, rule: 'no-reporting' });
    expect(decisionOf(await running.client.check(analytics))).toEqual({ allowed: true, rule: 'data-namespace-readers' });
  });
});
