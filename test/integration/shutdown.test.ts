// SIGTERM on the built CLI: NOT_SERVING at once (health Watch, /readyz), checks still answered for the drain
// window, then in-flight calls get the grace period and every connection is closed: the process exits 0
// whatever clients hold open.
import { afterEach, describe, expect, it } from 'vitest';
import { loadEnvoyApi } from '../../src/envoy/protos.js';
import { ANALYTICS, DATA_SERVICE, createClient, httpCheckRequest, type AuthorizationClient } from '../helpers/server.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { openStalledCheckStreams, openStalledHttpRequests, watchHealth } from '../helpers/stalled-clients.js';

const DRAIN_MS = 1500;
const GRACE_MS = 1500;
// Process start-up of the exit, log flushing, a loaded 2-core machine.
const EXIT_MARGIN_MS = 2500;

const cleanups: (() => void)[] = [];
let server: ServeProcess | undefined;

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  if (server && server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  server = undefined;
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function client(address: string): AuthorizationClient {
  const created = createClient(address);
  cleanups.push(() => created.close());
  return created;
}

const ALLOWED = httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, method: 'GET', path: '/api/v1/data' });

describe('SIGTERM', () => {
  it('with stalled clients: NOT_SERVING at once, checks answered during the drain, exit 0 within drain + grace', async () => {
    server = await startServeProcess([
      '--drain-ms', String(DRAIN_MS),
      '--shutdown-grace-ms', String(GRACE_MS),
      // So long that only the shutdown can end the stalled calls.
      '--call-timeout-ms', '60000',
      '--http-addr', '127.0.0.1:0',
    ]);
    const { grpcAddress, adminPort, httpPort } = server;
    const watch = watchHealth(grpcAddress);
    cleanups.push(() => watch.close());
    await waitFor(() => watch.statuses.includes('SERVING'), 5_000);
    // Check streams with headers only; Check streams stopped halfway through a 1 MiB message; HTTP requests
    // stopped halfway through their body; and a connection that has a check answered, then stays open.
    const headersOnly = await openStalledCheckStreams(grpcAddress, 5, 0, 0);
    const halfMessages = await openStalledCheckStreams(grpcAddress, 5, 1024 * 1024, 512 * 1024);
    const halfBodies = await openStalledHttpRequests(httpPort!, 5, 1_000_000, 100_000);
    cleanups.push(() => headersOnly.close(), () => halfMessages.close(), () => halfBodies.close());
    const early = client(grpcAddress);
    expect((await early.check(ALLOWED)).status.code ?? 0).toBe(0);

    const sigterm = Date.now();
    server.child.kill('SIGTERM');
    await waitFor(() => watch.statuses.at(-1) === 'NOT_SERVING', 1_000);
    expect((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status).toBe(503);
    // During the drain: a check on a new connection, one on the connection open before SIGTERM, and an
    // HTTP check are all answered (allowed, allowed, and denied (HTTP mode names no destination: the file's default)).
    expect((await client(grpcAddress).check(ALLOWED)).status.code ?? 0).toBe(0);
    expect((await early.check(ALLOWED)).status.code ?? 0).toBe(0);
    const httpAnswer = await fetch(`http://127.0.0.1:${httpPort}/api/v1/data`, { headers: { connection: 'close' } });
    expect(httpAnswer.status).toBe(403);
    expect(httpAnswer.headers.get('x-ext-authz-reason')).toBe('default_deny');
    expect(Date.now() - sigterm).toBeLessThan(DRAIN_MS);
    expect(server.child.exitCode).toBeNull();

    const { code, at } = await server.exited;
    console.log(`SIGTERM → exit ${at - sigterm} ms (drain ${DRAIN_MS} ms, grace ${GRACE_MS} ms) with 16 stalled clients`);
    expect(code).toBe(0);
    expect(at - sigterm).toBeGreaterThanOrEqual(DRAIN_MS);
    expect(at - sigterm).toBeLessThan(DRAIN_MS + GRACE_MS + EXIT_MARGIN_MS);
    expect(server.lines.map((line) => line['msg'])).toEqual(
      expect.arrayContaining(['draining: NOT_SERVING, still answering checks', 'shutting down', 'in-flight calls did not finish in time; closing their connections', 'stopped']),
    );
    // Nothing the stalled streams sent was answered: they were closed, not decided on a prefix.
    expect(halfMessages.answered.size).toBe(0);
  }, 30_000);

  it('lets a call in flight when the drain ends finish within the grace period, answered', async () => {
    server = await startServeProcess(['--drain-ms', '300', '--shutdown-grace-ms', '10000', '--call-timeout-ms', '60000']);
    // A whole CheckRequest of which only the first half is sent before SIGTERM.
    const message = Buffer.from(loadEnvoyApi().CheckRequest.encode({ attributes: { request: { http: { method: 'GET', path: '/api/v1/data' } } } }).finish());
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]);
    framed.writeUInt32BE(message.length, 1);
    const half = Math.floor(framed.length / 2);
    const inFlight = await openStalledCheckStreams(server.grpcAddress, 1, 0, 0);
    cleanups.push(() => inFlight.close());
    const stream = inFlight.streams[0]!;
    const answer = new Promise<{ status: unknown; bytes: number }>((resolve) => {
      let bytes = 0;
      stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
      stream.on('trailers', (trailers) => resolve({ status: trailers['grpc-status'], bytes }));
    });
    stream.write(framed.subarray(0, half));
    const sigterm = Date.now();
    server.child.kill('SIGTERM');
    await waitFor(() => server!.lines.some((line) => line['msg'] === 'shutting down'), 5_000);
    // The grace period has begun: the rest of the message arrives, and the call is decided and answered.
    stream.end(framed.subarray(half));
    const { status, bytes } = await answer;
    expect(status).toBe('0');
    expect(bytes).toBeGreaterThan(5);
    const { code, at } = await server.exited;
    expect(code).toBe(0);
    // It exits once that connection is gone, long before the 10 s grace period is over.
    expect(at - sigterm).toBeLessThan(300 + EXIT_MARGIN_MS);
  }, 30_000);

  it('without clients holding anything, exits 0 right after the drain, not after the grace period', async () => {
    server = await startServeProcess(['--drain-ms', '300', '--shutdown-grace-ms', '20000']);
    const idle = client(server.grpcAddress);
    expect((await idle.check(ALLOWED)).status.code ?? 0).toBe(0);
    const sigterm = Date.now();
    server.child.kill('SIGTERM');
    const { code, at } = await server.exited;
    expect(code).toBe(0);
    expect(at - sigterm).toBeLessThan(300 + EXIT_MARGIN_MS);
  }, 30_000);
});
