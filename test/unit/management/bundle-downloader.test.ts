// src/management/bundle-downloader.ts: OPA's delays (jittered polling, back-off) and long polling against a
// server on 127.0.0.1 that holds a request until a bundle changes (what nginx cannot do).
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { createBundleSet, type ActivatedBundle } from '../../../src/management/bundle-set.js';
import { backoffDelayMs, createBundleDownloader, pollingDelayMs } from '../../../src/management/bundle-downloader.js';
import type { BundleSetting } from '../../../src/management/config-file.js';
import { createServiceClient } from '../../../src/management/service-client.js';
import { buildBundle } from '../../helpers/policies.js';

describe('backoffDelayMs (OPA util.DefaultBackoff: 100 ms base, ×1.6, ±20 %, capped)', () => {
  it.each([
    [0, 0.5, 0],
    [1, 0.5, 160],
    [2, 0.5, 256],
    [1, 0, 128],
    [1, 1, 192],
    [50, 0.5, 120_000],
    [50, 1, 144_000],
  ])('retry %i with random %f → %f ms', (retries, random, expected) => {
    expect(backoffDelayMs(retries, 120_000, () => random)).toBeCloseTo(expected, 6);
  });
});

describe('pollingDelayMs (uniform in min..max)', () => {
  it.each([
    [0, 10_000],
    [0.5, 15_000],
    [0.999, 19_990],
  ])('random %f → %f ms', (random, expected) => {
    expect(pollingDelayMs({ minDelaySeconds: 10, maxDelaySeconds: 20 }, () => random)).toBeCloseTo(expected, 6);
  });
});

const LONG_POLL_TYPE = 'application/vnd.openpolicyagent.bundles';

function bundleAllowing(path: string, revision: string): Buffer {
  return buildBundle({ files: { 'authz.rego': `package envoy.authz\ndefault allow := false\nallow if input.attributes.request.http.path == "${path}"\n` }, revision });
}

describe('long polling', () => {
  it('sends Prefer: wait=N, and takes a bundle the server releases while holding the request', async () => {
    const bundles = [bundleAllowing('/one', 'one'), bundleAllowing('/two', 'two')];
    let current = 0;
    const held: ServerResponse[] = [];
    const prefers: string[] = [];
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      prefers.push(String(request.headers['prefer']));
      if (request.headers['if-none-match'] === `"${current}"`) {
        held.push(response); // answered when the bundle changes (or the test ends)
        return;
      }
      response.writeHead(200, { etag: `"${current}"`, 'content-type': LONG_POLL_TYPE }).end(bundles[current]);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const setting: BundleSetting = {
      name: 'authz',
      service: { name: 'long', url, headers: {}, allowInsecureTls: false, responseHeaderTimeoutSeconds: 10 },
      resource: 'bundle.tar.gz',
      persist: false,
      sizeLimitBytes: 10 * 1024 * 1024,
      // Polling alone would wait a minute: only long polling brings the new bundle within the test.
      minDelaySeconds: 60,
      maxDelaySeconds: 60,
      longPollingTimeoutSeconds: 30,
    };
    const activated: ActivatedBundle[] = [];
    const client = createServiceClient(setting.service);
    const downloader = createBundleDownloader({
      setting,
      client,
      bundleSet: createBundleSet(['authz'], { decision: 'envoy/authz/allow' }),
      persistenceDirectory: '/nonexistent',
      logger: createLogger('error', { write: () => {} }),
      onActivated: (bundle) => activated.push(bundle),
      onPoll: () => {},
    });
    try {
      downloader.start();
      const until = async (condition: () => boolean): Promise<void> => {
        const deadline = Date.now() + 5_000;
        while (!condition()) {
          if (Date.now() > deadline) throw new Error('timed out');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      await until(() => activated.length === 1 && held.length === 1);
      expect(activated[0]!.revision).toBe('one');
      expect(prefers.at(-1)).toBe('modes=snapshot,delta;wait=30');
      const released = Date.now();
      current = 1;
      held.shift()!.writeHead(200, { etag: '"1"', 'content-type': LONG_POLL_TYPE }).end(bundles[1]);
      await until(() => activated.length === 2);
      expect(activated[1]!.revision).toBe('two');
      expect(Date.now() - released).toBeLessThan(2_000);
      // And straight back to waiting on the server, not on a minute's delay.
      await until(() => held.length === 1);
    } finally {
      downloader.stop();
      for (const response of held) response.destroy();
      client.close();
      server.close();
    }
  });
});
