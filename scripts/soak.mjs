#!/usr/bin/env node
// The soak of issue 13: the built `meshwarden serve` (one process, over real sockets on 127.0.0.1) under stalled
// clients for a while (gRPC streams holding half-sent messages, HTTP requests holding half-sent bodies, slow
// readers that pipeline requests and never read the answers), alongside ordinary checks that must all get the
// right decision. Prints RSS before, at its peak and after the clients go, and the checks' outcome; exits 1
// when a check got a wrong decision or an error, or the RSS does not come back within the buffer budget.
//
//   npm run soak                       60 s
//   node scripts/soak.mjs --duration-ms 5000 --json    (the bounded form test/integration/soak.test.ts runs)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as connectHttp2 } from 'node:http2';
import { createRequire } from 'node:module';
import { connect as connectTcp } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const MiB = 1024 * 1024;
const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
const ANALYTICS = 'spiffe://cluster.local/ns/analytics/sa/analytics';
const DATA_SERVICE = 'spiffe://cluster.local/ns/data/sa/data';
/**
 * How far above its baseline the RSS may stay after the clients go: two times the server's default
 * --max-buffered-bytes (128 MiB), as test/integration/resources.test.ts states it: what the budget admits takes
 * up to twice its declared size in memory, and glibc keeps much of it mapped after it is freed.
 */
const RSS_MARGIN = 256 * MiB;

const { values: flags } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '60000' },
    json: { type: 'boolean', default: false },
  },
});
const durationMs = Number(flags['duration-ms']);
if (!Number.isInteger(durationMs) || durationMs < 1000) {
  console.error(`--duration-ms: "${flags['duration-ms']}" is not a whole number of milliseconds of at least 1000`);
  process.exit(2);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const write = (stream, chunk) => new Promise((resolve, reject) => stream.write(chunk, (error) => (error ? reject(error) : resolve())));

// --- the server --------------------------------------------------------------------------------------------

/** `serve` with the default rules and limits (the call time bound among them), HTTP mode with XFCC identities. */
async function startServer() {
  const child = spawn(
    process.execPath,
    ['--expose-gc', CLI, 'serve', '--grpc-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0', '--xfcc', '--workers', '1'],
    // Its log is read for the addresses, then drained (a decision line per check).
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const addresses = {};
  let buffer = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('serve did not log "serving" within 20 s'));
    }, 20_000);
    child.once('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const line = JSON.parse(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        if (line.msg === 'admin endpoint listening') addresses.admin = line.address;
        if (line.msg === 'HTTP ext_authz service listening') addresses.http = line.address;
        if (line.msg === 'serving') {
          addresses.grpc = line.address;
          clearTimeout(timer);
          resolve();
        }
      }
    });
  });
  const port = (address) => Number(address.slice(address.lastIndexOf(':') + 1));
  return {
    child,
    grpcAddress: addresses.grpc,
    httpPort: port(addresses.http),
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) * 1024,
    /** process.memoryUsage() after a full collection (admin /debug/memory), with the RSS. */
    async memory() {
      const figures = await (await fetch(`http://${addresses.admin}/debug/memory`)).json();
      return { rss: figures.rss, heapUsed: figures.heapUsed, external: figures.external, arrayBuffers: figures.arrayBuffers };
    },
  };
}

// --- ordinary checks, each with the decision it must get ---------------------------------------------------

function loadAuthorizationClient(address) {
  const root = dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json'));
  const includeDirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((dir) => join(root, 'deps', dir));
  const definition = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', { includeDirs, keepCase: false, longs: String, enums: String, defaults: false, oneofs: true });
  const Authorization = grpc.loadPackageDefinition(definition).envoy.service.auth.v3.Authorization;
  return { client: new Authorization(address, grpc.credentials.createInsecure()), serialize: Authorization.service.Check.requestSerialize };
}

function checkRequest(method) {
  return {
    attributes: {
      source: { address: { socketAddress: { address: '10.0.1.17', portValue: 41234 } }, principal: ANALYTICS },
      destination: { address: { socketAddress: { address: '10.0.2.5', portValue: 8080 } }, principal: DATA_SERVICE },
      request: { http: { method, path: '/api/v1/data', host: 'data', headers: { ':authority': 'data', ':method': method, ':path': '/api/v1/data' } } },
    },
  };
}

/** gRPC GET /api/v1/data from analytics to data: allowed by the default rules; POST: denied. */
function grpcCheck(client, method) {
  return new Promise((resolve) => {
    client.Check(checkRequest(method), { deadline: Date.now() + 5_000 }, (error, response) => {
      if (error) resolve({ error: `${error.code} ${error.details}` });
      else resolve({ allowed: (response.status?.code ?? 0) === 0 });
    });
  });
}

const XFCC = `By=${DATA_SERVICE};URI=${ANALYTICS}`;

/** The same two checks in HTTP mode (identities from XFCC): 200 allows, 403 denies. */
async function httpCheck(port, method) {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/data`, { method, headers: { 'x-forwarded-client-cert': XFCC }, signal: AbortSignal.timeout(5_000) });
    await response.arrayBuffer();
    if (response.status !== 200 && response.status !== 403) return { error: `HTTP ${response.status}` };
    return { allowed: response.status === 200 };
  } catch (error) {
    return { error: String(error?.cause?.code ?? error) };
  }
}

async function runChecks(server, until, outcome) {
  const { client } = loadAuthorizationClient(server.grpcAddress);
  const cases = [
    { name: 'grpc GET', run: () => grpcCheck(client, 'GET'), allowed: true },
    { name: 'grpc POST', run: () => grpcCheck(client, 'POST'), allowed: false },
    { name: 'http GET', run: () => httpCheck(server.httpPort, 'GET'), allowed: true },
    { name: 'http POST', run: () => httpCheck(server.httpPort, 'POST'), allowed: false },
  ];
  while (Date.now() < until) {
    for (const { name, run, allowed } of cases) {
      const result = await run();
      outcome.checks++;
      if (result.error !== undefined) outcome.errors.push(`${name}: ${result.error}`);
      else if (result.allowed !== allowed) outcome.wrong.push(`${name}: ${result.allowed ? 'allowed' : 'denied'}`);
    }
    await sleep(10);
  }
  client.close();
}

// --- stalled clients -----------------------------------------------------------------------------------------

/** One HTTP/2 connection with `count` Check streams, each announcing 30 MiB and sending `sentBytes`, then stalling. */
async function stallGrpc(address, count, sentBytes, holdMs) {
  const session = connectHttp2(`http://${address}`, { maxSessionMemory: 4096 });
  session.on('error', () => {});
  await new Promise((resolve) => session.once('connect', resolve));
  const filler = Buffer.alloc(MiB, 0x61);
  await Promise.all(
    Array.from({ length: count }, async () => {
      const stream = session.request({ ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers' }, { endStream: false });
      stream.on('error', () => {});
      stream.resume();
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(30 * MiB, 1);
      try {
        await write(stream, prefix);
        for (let sent = 0; sent < sentBytes && !stream.closed; sent += MiB) await write(stream, filler);
      } catch {
        // The server ended the stream (its budget, its time bound).
      }
    }),
  );
  await sleep(holdMs);
  session.destroy();
}

/** `count` HTTP connections, each announcing a 9 MiB body and sending `sentBytes` of it, then stalling. */
async function stallHttp(port, count, sentBytes, holdMs) {
  const filler = Buffer.alloc(MiB, 0x62);
  const sockets = await Promise.all(
    Array.from({ length: count }, async () => {
      const socket = connectTcp(port, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.resume();
      try {
        await write(socket, `POST /upload HTTP/1.1\r\nhost: data\r\ncontent-length: ${9 * MiB}\r\n\r\n`);
        for (let sent = 0; sent < sentBytes && !socket.destroyed; sent += MiB) await write(socket, filler);
      } catch {
        // The server closed the connection (its time bound).
      }
      return socket;
    }),
  );
  await sleep(holdMs);
  for (const socket of sockets) socket.destroy();
}

/**
 * Slow readers: connections that send many complete checks and never read an answer (HTTP: pipelined
 * requests; gRPC: streams whose responses the client leaves unread), so the answers pile up on the server.
 */
async function slowReaders(server, serialize, holdMs) {
  const socket = connectTcp(server.httpPort, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause();
  socket.write(`GET /api/v1/data HTTP/1.1\r\nhost: data\r\nx-forwarded-client-cert: ${XFCC}\r\n\r\n`.repeat(500));

  const session = connectHttp2(`http://${server.grpcAddress}`, { maxSessionMemory: 4096 });
  session.on('error', () => {});
  await new Promise((resolve) => session.once('connect', resolve));
  const message = serialize(checkRequest('GET'));
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  message.copy(framed, 5);
  for (let index = 0; index < 50; index++) {
    const stream = session.request({ ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers' }, { endStream: false });
    stream.on('error', () => {});
    stream.pause();
    stream.end(framed);
  }
  await sleep(holdMs);
  socket.destroy();
  session.destroy();
}

/** Waves of every kind of stalled client, each held `holdMs`, one wave after another until `until`. */
async function runStalls(server, serialize, until, counts) {
  const holdMs = 1_500;
  while (Date.now() < until) {
    counts.waves++;
    await Promise.all([
      stallGrpc(server.grpcAddress, 20, 29 * MiB, holdMs),
      stallGrpc(server.grpcAddress, 20, 2 * MiB, holdMs),
      stallHttp(server.httpPort, 20, 8 * MiB, holdMs),
      slowReaders(server, serialize, holdMs),
    ]);
  }
}

// --- the soak ------------------------------------------------------------------------------------------------

const mib = (bytes) => Math.round(bytes / MiB);

const server = await startServer();
let exitCode = 1;
try {
  const outcome = { checks: 0, wrong: [], errors: [] };
  const warmup = { checks: 0, wrong: [], errors: [] };
  await runChecks(server, Date.now() + 1_000, warmup);
  const before = await server.memory();
  let peak = server.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, server.rss())), 100);
  const started = Date.now();
  const until = started + durationMs;
  const counts = { waves: 0 };
  const { serialize } = loadAuthorizationClient(server.grpcAddress);
  await Promise.all([runChecks(server, until, outcome), runStalls(server, serialize, until, counts)]);
  clearInterval(sampler);
  // The clients are gone: what they made the server hold is released as their calls end (the call time bound
  // ends those still open), then the RSS is read after a full collection.
  let after = await server.memory();
  for (const deadline = Date.now() + 10_000; after.external - before.external > 16 * MiB && Date.now() < deadline; ) {
    await sleep(250);
    after = await server.memory();
  }
  const summary = {
    durationMs: Date.now() - started,
    waves: counts.waves,
    checks: outcome.checks,
    wrongDecisions: outcome.wrong.length,
    errors: outcome.errors.length,
    rssMiB: { before: mib(before.rss), peak: mib(Math.max(peak, after.rss)), after: mib(after.rss), marginMiB: mib(RSS_MARGIN) },
    externalMiB: { before: mib(before.external), after: mib(after.external) },
    heapUsedMiB: { before: mib(before.heapUsed), after: mib(after.heapUsed) },
    firstProblems: [...outcome.wrong, ...outcome.errors].slice(0, 10),
  };
  const passed = summary.wrongDecisions === 0 && summary.errors === 0 && summary.checks > 0 && after.rss - before.rss < RSS_MARGIN;
  summary.passed = passed;
  if (flags.json) console.log(JSON.stringify(summary));
  else {
    console.log(`soak: ${(summary.durationMs / 1000).toFixed(1)} s, ${summary.waves} waves of stalled clients (40 gRPC streams holding half-sent 30 MiB messages, 20 HTTP requests holding 8 MiB of 9 MiB bodies, 500 pipelined HTTP and 50 gRPC checks never read)`);
    console.log(`checks: ${summary.checks} decided, ${summary.wrongDecisions} wrong, ${summary.errors} errors`);
    console.log(`RSS: before ${summary.rssMiB.before} MiB, peak ${summary.rssMiB.peak} MiB, after ${summary.rssMiB.after} MiB (margin ${summary.rssMiB.marginMiB} MiB)`);
    console.log(`external: before ${summary.externalMiB.before} MiB, after ${summary.externalMiB.after} MiB; heap used before ${summary.heapUsedMiB.before} MiB, after ${summary.heapUsedMiB.after} MiB`);
    for (const problem of summary.firstProblems) console.log(`  ${problem}`);
    console.log(passed ? 'soak passed' : 'soak FAILED');
  }
  exitCode = passed ? 0 : 1;
} finally {
  server.child.kill('SIGKILL');
}
process.exit(exitCode);
