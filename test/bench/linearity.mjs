#!/usr/bin/env node
// Linearity benchmark (issue 13 item 4): is the cost of a check linear in its size, everywhere? For each part
// of a request an attacker can grow (paths of percent-escapes, segments, semicolons and dot segments; queries;
// one long header and many headers; JSON, form, multipart and gRPC bodies), CheckRequests from 1 KiB up to the
// limit that applies (--max-path-bytes, --max-header-bytes, --max-request-bytes) go through the whole Check
// path in-process: the codec (wire check and decode), the input, the rules library with DENY rules on the
// path, a header and a query parameter, the decision. Reported, never asserted: CPU time per byte of the
// first Check on a fresh policy instance (whose wasm memory must grow to the size; the least of three
// instances), of repeated ones (median, after it), and its marginal form (time above the same request with an empty part,
// per byte of the part), and the spread of the marginal figure over the sizes from 4 KiB where the part costs
// at least 200 µs (max/min: about 1 for linear, the size ratio for quadratic).
//
// Usage: npm run bench:linearity   (or: npx tsc -p tsconfig.json && node test/bench/linearity.mjs)
// LINEARITY_CASES=path_escapes,body_json picks cases; LINEARITY_BUDGET_MB (8) is the bytes measured per size;
// LINEARITY_QUICK=1 (or BENCH_ROUNDS=1, CI's smoke run) measures up to 256 KiB, on one fresh instance.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { ROOT } from './harness.mjs';

const dist = (path) => join(ROOT, 'dist', 'src', path);
const { parseServeConfig } = await import(dist('config.js'));
const { createRuntime } = await import(dist('runtime.js'));
const { createCheckCodec } = await import(dist('envoy/codec.js'));
const { runCheck } = await import(dist('check/check.js'));
const { internalErrorResponse } = await import(dist('check/answer.js'));

const KiB = 1024;
const MiB = 1024 * KiB;
// CI's smoke run of `npm run bench` (BENCH_ROUNDS=1) only checks that every case still runs and decides.
const QUICK = process.env.BENCH_ROUNDS === '1' || process.env.LINEARITY_QUICK === '1';
const BUDGET = Number(process.env.LINEARITY_BUDGET_MB ?? (QUICK ? 0.5 : 8)) * MiB;
const INSTANCES = QUICK ? 1 : 3;
const LARGEST = QUICK ? 256 * KiB : Infinity;
const ANALYTICS = 'spiffe://cluster.local/ns/analytics/sa/analytics';
const DATA = 'spiffe://cluster.local/ns/data/sa/data';

const RULES = `rules:
  - name: block-admin
    action: DENY
    operations: [{paths: [/admin, /internal/*]}]
  - name: block-flagged
    action: DENY
    when:
      - key: "request.headers[x-block]"
        values: ["yes"]
      - key: "request.query[debug]"
        values: ["1"]
  - name: analytics-reads-data
    action: ALLOW
    to: {principals: [cluster.local/ns/data/sa/data]}
    from: [{principals: [cluster.local/ns/analytics/sa/analytics]}]
    operations: [{methods: [GET, POST], paths: [/api/v1/data, /com.book.BookService/GetBooksViaAuthor]}]
`;

const dir = mkdtempSync(join(tmpdir(), 'meshwarden-linearity-'));
writeFileSync(join(dir, 'rules.yaml'), RULES);
const bookRoot = protobuf.loadSync(join(ROOT, 'test', 'fixtures', 'book.proto'));
writeFileSync(join(dir, 'book.pb'), descriptor.FileDescriptorSet.encode(bookRoot.toDescriptor('proto3')).finish());
const BookRequest = bookRoot.lookupType('com.book.GetBooksViaAuthorReq');

const config = parseServeConfig(['--rules', join(dir, 'rules.yaml'), '--proto-descriptor', join(dir, 'book.pb')], {});
let runtime = await createRuntime(config);
const codec = createCheckCodec(runtime.api, { maxRequestBytes: config.maxRequestBytes, fallbackResponse: internalErrorResponse });
const { CheckRequest } = runtime.api;

function request({ method = 'GET', path = '/api/v1/data', headers = {}, body }) {
  return CheckRequest.encode(
    CheckRequest.fromObject({
      attributes: {
        source: { principal: ANALYTICS, address: { socketAddress: { address: '10.0.1.17', portValue: 41234 } } },
        destination: { principal: DATA, address: { socketAddress: { address: '10.0.2.5', portValue: 8080 } } },
        request: {
          http: {
            method,
            path,
            host: 'data.data.svc.cluster.local',
            headers: { ':authority': 'data.data.svc.cluster.local', ':method': method, ':path': path.length < 4 * KiB ? path : '/', ...headers },
            ...(body === undefined ? {} : typeof body === 'string' ? { body, size: Buffer.byteLength(body) } : { rawBody: body, size: body.length }),
          },
        },
      },
    }),
  ).finish();
}

const repeatTo = (unit, bytes) => unit.repeat(Math.max(1, Math.floor(bytes / unit.length)));
const grpcFrame = (message) => {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
};
const boundary = 'b0undary';

/** Each case: the sizes of its part, and the request with a part of `bytes` bytes (0: the part empty). */
const CASES = {
  path_escapes: { max: config.maxPathBytes, make: (n) => request({ path: '/api/v1/data/' + repeatTo('%41', n) }) },
  path_segments: { max: config.maxPathBytes, make: (n) => request({ path: '/api/v1/data' + repeatTo('/a', n) }) },
  path_semicolons: { max: config.maxPathBytes, make: (n) => request({ path: '/api/v1/data' + repeatTo('/a;b', n) }) },
  path_dot_segments: { max: config.maxPathBytes, make: (n) => request({ path: '/api/v1/data' + repeatTo('/a/..', n) }) },
  query: { max: config.maxPathBytes, make: (n) => request({ path: '/api/v1/data?' + repeatTo('k=v%20&', n) }) },
  header_long: { max: config.maxHeaderBytes, make: (n) => request({ headers: { 'x-long': repeatTo('v', n) } }) },
  headers_many: { max: Math.min(config.maxHeaderBytes, config.maxHeaderCount * 16), make: (n) => request({ headers: Object.fromEntries(Array.from({ length: Math.floor(n / 16) }, (_, i) => [`x-h-${String(i).padStart(6, '0')}`, 'val'])) }) },
  body_json: { max: 4 * MiB, make: (n) => request({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '[' + repeatTo('{"a":1.5},', n) + '0]' }) },
  // Pairs of ~600 bytes: Go's ParseQuery (and so meshwarden) refuses more than 10,000 of them.
  body_form: { max: 4 * MiB, make: (n) => request({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: repeatTo(`k=${'v%20'.repeat(148)}&`, n) + 'z=1' }) },
  body_multipart: {
    max: 4 * MiB,
    make: (n) =>
      request({
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body: repeatTo(`--${boundary}\r\ncontent-disposition: form-data; name="f"\r\n\r\nvalue\r\n`, n) + `--${boundary}--\r\n`,
      }),
  },
  body_grpc: {
    max: 4 * MiB,
    make: (n) =>
      request({
        method: 'POST',
        path: '/com.book.BookService/GetBooksViaAuthor',
        headers: { 'content-type': 'application/grpc' },
        body: grpcFrame(BookRequest.encode({ author: repeatTo('a', n) }).finish()),
      }),
  },
};

const SIZES = [1 * KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB];

function cpuMicros() {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/**
 * CPU µs of the first Check of `bytes` on a fresh policy instance (its wasm memory not yet grown to the size),
 * and the median of repeated ones after it.
 */
async function measure(bytes) {
  // The first Check on each of three fresh instances; the least of them (a GC pause only ever adds).
  let first = Infinity;
  let outcome;
  for (let instance = 0; instance < INSTANCES; instance++) {
    runtime = await createRuntime(config);
    const firstStart = cpuMicros();
    outcome = runCheck(codec.decode(Buffer.from(bytes)), runtime.checkContext);
    first = Math.min(first, cpuMicros() - firstStart);
  }
  const runs = Math.max(5, Math.min(400, Math.floor(BUDGET / bytes.length)));
  outcome = runCheck(codec.decode(Buffer.from(bytes)), runtime.checkContext);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const buffer = Buffer.from(bytes);
    const start = cpuMicros();
    outcome = runCheck(codec.decode(buffer), runtime.checkContext);
    times.push(cpuMicros() - start);
  }
  times.sort((a, b) => a - b);
  return { first, micros: times[Math.floor(times.length / 2)], reason: outcome.reason, rule: outcome.rule };
}

const chosen = process.env.LINEARITY_CASES ? process.env.LINEARITY_CASES.split(',') : Object.keys(CASES);
const rows = [];
for (const name of chosen) {
  const { max, make } = CASES[name];
  const empty = await measure(make(0));
  const spread = [];
  const firstSpread = [];
  const limit = Math.min(max, LARGEST);
  for (const size of SIZES.filter((size) => size <= limit).concat(SIZES.includes(limit) ? [] : [limit])) {
    // Just under the limit: the part, plus the rest of the request, must still be within it.
    const part = size === max ? max - 512 : size;
    if (part <= 0) continue;
    const bytes = make(part);
    const { first, micros, reason, rule } = await measure(bytes);
    const marginal = ((micros - empty.micros) * 1000) / part;
    // Below a few hundred µs of marginal time, the clock's resolution and noise are most of the figure.
    if (part >= 4 * KiB && micros - empty.micros >= 200) spread.push(marginal);
    if (part >= 4 * KiB && first >= 2000) firstSpread.push((first * 1000) / bytes.length);
    rows.push({ case: name, part_bytes: part, request_bytes: bytes.length, first_cpu_us: first, first_ns_per_byte: +((first * 1000) / bytes.length).toFixed(1), cpu_us: micros, ns_per_byte: +((micros * 1000) / bytes.length).toFixed(1), marginal_ns_per_byte: +marginal.toFixed(1), decided: `${reason}${rule ? ` (${rule})` : ''}` });
  }
  const ratio = (values) => (values.length < 2 ? '-' : +(Math.max(...values) / Math.min(...values)).toFixed(2));
  rows.push({ case: name, part_bytes: 'max/min', first_ns_per_byte: ratio(firstSpread), marginal_ns_per_byte: ratio(spread) });
  console.error(`${name}: done`);
}
console.table(rows);
