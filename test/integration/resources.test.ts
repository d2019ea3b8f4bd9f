// What slow or stalled clients can make the server hold, on the built CLI: unfinished gRPC messages and HTTP
// bodies hold at most the buffer budget, and the RSS stays bounded (not back at baseline: glibc) once the clients go; calls without a grpc-timeout
// end within the call time bound with a deny; connections past the cap are refused; streams past the
// per-connection cap are not opened.
import { connect as connectTcp } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ANALYTICS, DATA_SERVICE, createClient, httpCheckRequest } from '../helpers/server.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { openStalledCheckStreams, openStalledHttpRequests, watchHealth, type StalledRequests, type StalledStreams } from '../helpers/stalled-clients.js';

const MiB = 1024 * 1024;

let server: ServeProcess | undefined;
const cleanups: (() => void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  if (server && server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  server = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(20);
  }
}

const ALLOWED = httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, method: 'GET', path: '/api/v1/data' });

/**
 * The server's memory after a full GC (admin /debug/memory, node --expose-gc), polled for up to 5 s until
 * external memory is back within `slack` of `baseline` (sockets close and backing stores are freed a
 * little after the clients go).
 */
async function collectedMemory(process: ServeProcess, baseline = Infinity, slack = 0): Promise<{ rss: number; external: number }> {
  const until = Date.now() + 5_000;
  for (;;) {
    const figures = (await (await fetch(`http://127.0.0.1:${process.adminPort}/debug/memory`)).json()) as { rss: number; external: number; gc: boolean };
    expect(figures.gc).toBe(true);
    if (figures.external - baseline < slack || Date.now() > until) return figures;
    await sleep(200);
  }
}

/** 20 streams on one connection each holding 29 MiB of a 30 MiB message; 40 HTTP connections each 8 MiB into a 9 MiB body. */
async function stallEverything(process: ServeProcess): Promise<{ rss: number; streams: StalledStreams; requests: StalledRequests; close(): void }> {
  const streams = await openStalledCheckStreams(process.grpcAddress, 20, 30 * MiB, 29 * MiB);
  const requests = await openStalledHttpRequests(process.httpPort!, 40, 9 * MiB, 8 * MiB);
  await sleep(300);
  return {
    rss: process.rssBytes(),
    streams,
    requests,
    close: () => {
      streams.close();
      requests.close();
    },
  };
}

const mib = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;

/** The default --max-buffered-bytes: all that unfinished requests may hold together. */
const BUDGET = 128 * MiB;
/**
 * How far the RSS may stay above its baseline once the clients have gone (the README states it): two budgets.
 * The budget counts declared bytes; what the admitted messages hold in memory is more (node keeps each
 * 64 KiB socket read whole while any slice of it is referenced, and reads are shared between streams), and when
 * it is freed glibc returns heap to the OS only from its top, so much of it stays mapped, for reuse (measured
 * +23 to +192 MiB; without the budget +870 MiB).
 */
const RSS_MARGIN = 2 * BUDGET;
/** How far above its baseline the RSS may go while they stall: the budget's bytes as memory holds them (+100 to +223 MiB measured). */
const PEAK_MARGIN = 2.5 * BUDGET;
/** What a second wave may add to what the first left mapped: it reuses that memory, it does not pile up. */
const SECOND_WAVE_GROWTH = 48 * MiB;

describe('memory held by stalled clients', () => {
  it('stays within the buffer budget while 20 half-sent 30 MiB gRPC messages and 40 half-sent 8 MiB HTTP bodies stall, and RSS stays within two budgets after they go, a second wave adding little', async () => {
    // The call time bound is long here, so only the budget bounds what the stalled clients hold, and only
    // the clients going releases it. The default budget: 128 MiB, large messages up to 96 MiB of it.
    server = await startServeProcess(['--call-timeout-ms', '60000', '--http-addr', '127.0.0.1:0'], ['--expose-gc']);
    const check = createClient(server.grpcAddress);
    cleanups.push(() => check.close());
    for (let warmup = 0; warmup < 20; warmup++) await check.check(ALLOWED);
    const before = await collectedMemory(server);

    const first = await stallEverything(server);
    cleanups.push(() => first.close());
    // Ordinary checks are decided while the budget is taken by stalled large messages.
    for (let index = 0; index < 20; index++) expect((await check.check(ALLOWED)).status.code ?? 0).toBe(0);
    // Three 30 MiB messages fit in the large share; every other stalled message is denied from its prefix
    // (gRPC) or its content-length (HTTP), before any of it is held.
    await waitFor(() => first.streams.received.filter((text) => text.includes('buffer_budget_exceeded')).length === 17, 5_000);
    await waitFor(() => first.requests.replies.filter((reply) => reply.startsWith('HTTP/1.1 429 ')).length === 40, 5_000);
    for (const reply of first.requests.replies) expect(reply).toContain('x-ext-authz-reason: buffer_budget_exceeded');
    expect(first.streams.received.filter((text) => text === '')).toHaveLength(3);
    first.close();
    const afterFirst = await collectedMemory(server, before.external, 16 * MiB);

    const second = await stallEverything(server);
    cleanups.push(() => second.close());
    // What the first wave reserved was given back: three messages are admitted again, no fewer.
    await waitFor(() => second.streams.received.filter((text) => text.includes('buffer_budget_exceeded')).length === 17, 5_000);
    expect(second.streams.received.filter((text) => text === '')).toHaveLength(3);
    second.close();
    const afterSecond = await collectedMemory(server, before.external, 16 * MiB);

    console.log(
      `RSS before ${mib(before.rss)}, during ${mib(first.rss)}, after ${mib(afterFirst.rss)}; second wave during ${mib(second.rss)}, after ${mib(afterSecond.rss)}; ` +
        `external before ${mib(before.external)}, after ${mib(afterFirst.external)}, after the second ${mib(afterSecond.external)}`,
    );
    // What the clients made us hold is bounded by the budget (the three admitted messages: 87 MiB declared,
    // up to twice that in memory, as above; measured +100 to +223 MiB)...
    expect(first.rss - before.rss).toBeLessThan(PEAK_MARGIN);
    expect(second.rss - before.rss).toBeLessThan(PEAK_MARGIN);
    // ...nothing of it stays referenced once they are gone...
    expect(afterFirst.external - before.external).toBeLessThan(16 * MiB);
    expect(afterSecond.external - before.external).toBeLessThan(16 * MiB);
    // ...the process stays within two budgets of its baseline after they go (glibc keeps much of the freed
    // heap mapped: measured +23 to +192 MiB, not the baseline)...
    expect(afterFirst.rss - before.rss).toBeLessThan(RSS_MARGIN);
    expect(afterSecond.rss - before.rss).toBeLessThan(RSS_MARGIN);
    // ...and a second wave reuses what the first left mapped rather than adding to it (no leak).
    expect(afterSecond.rss - afterFirst.rss).toBeLessThan(SECOND_WAVE_GROWTH);
  }, 40_000);
});

describe('memory held by clients that never go', () => {
  it('is released by the call time bound: half-sent gRPC messages are denied and HTTP requests closed while their clients stay connected', async () => {
    // A budget large enough to take every stalled message: here only the time bound releases them.
    server = await startServeProcess(['--call-timeout-ms', '1000', '--http-addr', '127.0.0.1:0', '--max-buffered-bytes', String(4 * 1024 * MiB)], ['--expose-gc']);
    const before = await collectedMemory(server);
    const streams = await openStalledCheckStreams(server.grpcAddress, 20, 30 * MiB, 29 * MiB);
    const requests = await openStalledHttpRequests(server.httpPort!, 40, 9 * MiB, 8 * MiB);
    cleanups.push(() => streams.close(), () => requests.close());
    const during = server.rssBytes();
    const after = await collectedMemory(server, before.external, 16 * MiB);
    console.log(`call time bound: external before ${mib(before.external)}, after ${mib(after.external)} (RSS during ${mib(during)}), clients still connected`);
    // The gRPC client is still connected; every one of its stalled calls was ended with a call_timeout deny
    // and its stream reset (what the client receives is checked on the wire in 'the call time bound').
    expect(streams.session.destroyed).toBe(false);
    expect(streams.streams.every((stream) => stream.closed)).toBe(true);
    await waitFor(() => server!.lines.filter((line) => line['reason'] === 'call_timeout').length >= 20, 2_000);
    expect(server.lines.filter((line) => line['reason'] === 'call_timeout')).toHaveLength(20);
    expect(after.external - before.external).toBeLessThan(16 * MiB);
  }, 30_000);
});

describe('the call time bound', () => {
  it('ends a Check stream stalled mid-message, and one that never sends, with a call_timeout deny (never a hang or an RPC error)', async () => {
    server = await startServeProcess(['--call-timeout-ms', '300']);
    const watch = watchHealth(server.grpcAddress);
    cleanups.push(() => watch.close());
    await waitFor(() => watch.statuses.length > 0, 5_000);
    const streams = await openStalledCheckStreams(server.grpcAddress, 3, 64 * 1024, 1000);
    const silent = await openStalledCheckStreams(server.grpcAddress, 2, 0, 0);
    cleanups.push(() => streams.close(), () => silent.close());
    const answers = await Promise.all(
      [...streams.streams, ...silent.streams].map(
        (stream) =>
          new Promise<{ status: string | undefined; body: Buffer }>((resolve) => {
            const chunks: Buffer[] = [];
            stream.on('data', (chunk: Buffer) => chunks.push(chunk));
            stream.on('trailers', (trailers) => resolve({ status: trailers['grpc-status'] as string | undefined, body: Buffer.concat(chunks) }));
          }),
      ),
    );
    for (const answer of answers) {
      expect(answer.status).toBe('0');
      // A CheckResponse (5-byte prefix, then the message) naming the reason.
      expect(answer.body.length).toBeGreaterThan(5);
      expect(answer.body.subarray(5).toString('latin1')).toContain('call_timeout');
    }
    // The log is written asynchronously: its lines may follow the answers by a moment.
    await waitFor(() => server!.lines.filter((line) => line['msg'] === 'a Check did not end within the call time bound; denied').length >= 5, 2_000);
    expect(server.lines.filter((line) => line['msg'] === 'a Check did not end within the call time bound; denied')).toHaveLength(5);
    // Calls that complete in time are untouched, and so are other methods: a health Watch stream lives on.
    const check = createClient(server.grpcAddress);
    cleanups.push(() => check.close());
    expect((await check.check(ALLOWED)).status.code ?? 0).toBe(0);
    expect(watch.statuses).toEqual(['SERVING']);
    expect(watch.ended).toBeUndefined();
  }, 20_000);

  it('closes an HTTP request whose body stops coming with a 408 within the bound', async () => {
    server = await startServeProcess(['--call-timeout-ms', '300', '--http-addr', '127.0.0.1:0']);
    const started = Date.now();
    const requests = await openStalledHttpRequests(server.httpPort!, 2, 1000, 10);
    cleanups.push(() => requests.close());
    const replies = await Promise.all(
      requests.sockets.map(
        (socket) =>
          new Promise<string>((resolve) => {
            let text = '';
            socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
            socket.on('close', () => resolve(text));
          }),
      ),
    );
    for (const reply of replies) {
      expect(reply).toMatch(/^HTTP\/1\.1 408 /);
      expect(reply).toContain('x-ext-authz-reason: call_timeout');
    }
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 20_000);
});

describe('connection and stream caps', () => {
  it('refuses gRPC connections past --max-connections and keeps serving those it holds', async () => {
    server = await startServeProcess(['--max-connections', '3']);
    const port = Number(server.grpcAddress.split(':')[1]);
    const held = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const socket = connectTcp(port, '127.0.0.1');
        socket.on('error', () => {});
        await new Promise((resolve) => socket.once('connect', resolve));
        return socket;
      }),
    );
    cleanups.push(() => held.forEach((socket) => socket.destroy()));
    await sleep(200);
    const refused = connectTcp(port, '127.0.0.1');
    refused.on('error', () => {});
    const closedAt = await new Promise<number>((resolve) => refused.once('close', () => resolve(Date.now())));
    expect(closedAt).toBeGreaterThan(0);
    await waitFor(() => server!.lines.some((line) => line['msg'] === 'connection refused: the listener is at its connection cap' && line['listener'] === 'grpc'), 2_000);
    // One held connection leaves: the listener accepts again.
    held.pop()!.destroy();
    await sleep(200);
    const check = createClient(server.grpcAddress);
    cleanups.push(() => check.close());
    expect((await check.check(ALLOWED)).status.code ?? 0).toBe(0);
  }, 20_000);

  it('refuses HTTP connections past --max-connections, and closes idle ones after --idle-timeout-ms (gRPC: GOAWAY)', async () => {
    server = await startServeProcess(['--max-connections', '2', '--idle-timeout-ms', '1000', '--http-addr', '127.0.0.1:0']);
    const held = await openStalledHttpRequests(server.httpPort!, 2, 100, 0);
    cleanups.push(() => held.close());
    await sleep(200);
    const refused = connectTcp(server.httpPort!, '127.0.0.1');
    refused.on('error', () => {});
    let answer = '';
    refused.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
    refused.once('connect', () => refused.write('GET / HTTP/1.1\r\nhost: a\r\n\r\n'));
    await new Promise((resolve) => refused.once('close', resolve));
    expect(answer).toBe('');
    await waitFor(() => server!.lines.some((line) => line['msg'] === 'connection refused: the listener is at its connection cap' && line['listener'] === 'http'), 2_000);
    held.close();
    // The server counts a connection as gone when it has seen it close, not when the client closed it.
    await sleep(300);

    // An idle keep-alive HTTP connection, and an idle gRPC connection (which hears GOAWAY), are closed.
    const idleHttp = connectTcp(server.httpPort!, '127.0.0.1');
    idleHttp.on('error', () => {});
    let idleAnswer = '';
    idleHttp.setEncoding('latin1').on('data', (chunk: string) => (idleAnswer += chunk));
    await new Promise((resolve) => idleHttp.once('connect', resolve));
    // One request answered, then the keep-alive connection sits idle.
    idleHttp.write('GET /api/v1/data HTTP/1.1\r\nhost: data.example\r\n\r\n');
    const idleGrpc = await openStalledCheckStreams(server.grpcAddress, 0, 0, 0);
    cleanups.push(() => idleHttp.destroy(), () => idleGrpc.close());
    let goaway = false;
    idleGrpc.session.once('goaway', () => (goaway = true));
    const opened = Date.now();
    await new Promise((resolve) => idleHttp.once('close', resolve));
    expect(idleAnswer).toMatch(/^HTTP\/1\.1 403 /);
    await waitFor(() => goaway, 5_000);
    expect(Date.now() - opened).toBeLessThan(5_000);
  }, 20_000);

  it('advertises --max-streams-per-connection and refuses streams past it', async () => {
    server = await startServeProcess(['--max-streams-per-connection', '4', '--call-timeout-ms', '60000']);
    const streams = await openStalledCheckStreams(server.grpcAddress, 4, 0, 0);
    cleanups.push(() => streams.close());
    await waitFor(() => streams.session.remoteSettings.maxConcurrentStreams === 4, 2_000);
    const extra = streams.session.request({ ':method': 'POST', ':path': '/envoy.service.auth.v3.Authorization/Check', 'content-type': 'application/grpc', te: 'trailers' });
    const outcome = await new Promise<string>((resolve) => {
      extra.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      extra.on('response', () => resolve('answered'));
      setTimeout(() => resolve('pending'), 1000);
    });
    // Node's client either refuses locally or the server resets the stream; it is never served.
    expect(outcome).not.toBe('answered');
  }, 20_000);
});

describe('the buffer budget over HTTP', () => {
  it('holds a chunked body in the budget as it grows: a second one that does not fit is denied (429) at once, the first is still decided', async () => {
    // 2 MiB of budget, large bodies up to 1.5 MiB of it; each body here grows to 1 MiB without a content-length.
    server = await startServeProcess(['--http-addr', '127.0.0.1:0', '--max-request-bytes', String(MiB), '--max-buffered-bytes', String(2 * MiB), '--call-timeout-ms', '20000']);
    const open = async (): Promise<{ socket: ReturnType<typeof connectTcp>; reply: () => string }> => {
      const socket = connectTcp(server!.httpPort!, '127.0.0.1');
      socket.on('error', () => {});
      let text = '';
      socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write('POST /api/v1/data HTTP/1.1\r\nhost: data.example\r\ntransfer-encoding: chunked\r\n\r\n');
      cleanups.push(() => socket.destroy());
      return { socket, reply: () => text };
    };
    const chunk = `${(256 * 1024).toString(16)}\r\n${'c'.repeat(256 * 1024)}\r\n`;
    const first = await open();
    for (let index = 0; index < 4; index++) first.socket.write(chunk);
    await sleep(300);
    expect(first.reply()).toBe('');
    const second = await open();
    for (let index = 0; index < 4; index++) second.socket.write(chunk);
    await waitFor(() => second.reply().startsWith('HTTP/1.1 429 '), 5_000);
    expect(second.reply()).toContain('x-ext-authz-reason: buffer_budget_exceeded');
    expect(first.reply()).toBe('');
    // The first body ends: it is decided (the default rules deny it: no identities over plain HTTP).
    first.socket.write('0\r\n\r\n');
    await waitFor(() => first.reply().startsWith('HTTP/1.1 403 '), 5_000);
    expect(first.reply()).toContain('x-ext-authz-reason: ');
    expect(first.reply()).not.toContain('buffer_budget_exceeded');
  }, 20_000);
});
