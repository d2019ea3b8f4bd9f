#!/usr/bin/env node
// Throughput benchmark: meshwarden's Check against a no-op grpc-js Check server, both driven by ghz.
//
// The no-op server (noop-server.mjs) decodes each CheckRequest and encodes an OK CheckResponse and does
// nothing else, so it is the ceiling any grpc-js ext_authz server can reach on this machine. The ratio
// meshwarden/noop therefore says how much the policy path (input building, OPA wasm, decision logging)
// costs, largely independent of how fast the machine is. The ratio is reported, never asserted: speed on
// a shared machine is not a pass/fail test. What is asserted is that every request succeeded and got the
// expected decision, because a benchmark of errors measures nothing.
//
// Usage: npm run bench   (or: npx tsc -p tsconfig.json && node test/bench/check-bench.mjs)
// Tuning (environment): BENCH_ROUNDS (3), BENCH_SECONDS per run (5), BENCH_WARMUP_SECONDS (2),
// BENCH_CONCURRENCY (50), BENCH_KEEP=1 keeps the server log and raw ghz reports in the temp dir.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, fstatSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { AUTHORIZATION_PROTO, CHECK_METHOD, envoyProtoDirs } from './protos.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const ALLOWED_REQUEST = join(ROOT, 'examples', 'requests', 'analytics-get-data.json');
const DENIED_PRINCIPAL = 'spiffe://cluster.local/ns/analytics/sa/default';
const HOST = '127.0.0.1'; // all traffic stays on loopback

const SETTINGS = {
  rounds: intFromEnv('BENCH_ROUNDS', 3),
  seconds: intFromEnv('BENCH_SECONDS', 5),
  warmupSeconds: intFromEnv('BENCH_WARMUP_SECONDS', 2),
  concurrency: intFromEnv('BENCH_CONCURRENCY', 50),
  keep: process.env.BENCH_KEEP === '1',
};
const TARGET_RATIO = 0.6;
// Hard ceiling for the whole run, so a wedged server or ghz can never hang CI.
// Twice the planned load time plus two minutes for start-up, log checks and shutdown.
const OVERALL_LIMIT_MS = (120 + 2 * 3 * (SETTINGS.warmupSeconds + SETTINGS.rounds * SETTINGS.seconds)) * 1000;

/** Every child we start (servers and ghz), so cleanup can end exactly those. */
const children = new Set();
/** The run's temp dir; left in place on failure (server log, ghz reports) for a look. */
let workDir;

function intFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}=${raw} is not a positive whole number`);
  return value;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------
// Servers

/** A port nobody listens on right now (the OS picks it; the tiny race until the server binds is fine here). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Spawns a child, remembers it for cleanup, and keeps the tail of its stderr for error messages. */
function startChild(name, args, stdio) {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio, env: process.env });
  child.label = name;
  child.stderrTail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk) => {
    child.stderrTail = (child.stderrTail + chunk).slice(-4000);
  });
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** True if this build of meshwarden has the admin HTTP endpoint (it defaults to 0.0.0.0:9090). */
function hasAdminEndpoint() {
  return execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' }).includes('--admin-addr');
}

/**
 * meshwarden as deployed: info-level decision logging on, stdout going to a file (read later to verify
 * decisions), the admin endpoint (if any) kept on but moved to a free loopback port.
 */
function startMeshwarden(port, adminPort, logPath) {
  const args = [CLI, 'serve', '--grpc-addr', `${HOST}:${port}`, '--log-level', 'info'];
  if (adminPort !== undefined) args.push('--admin-addr', `${HOST}:${adminPort}`);
  const logFd = openSync(logPath, 'a');
  const child = startChild('meshwarden', args, ['ignore', logFd, 'pipe']);
  closeSync(logFd); // the child has its own copy
  return child;
}

/** The no-op baseline; the IPC channel lets it exit by itself if this process dies. */
function startNoop(port) {
  return startChild('noop', [join(HERE, 'noop-server.mjs'), `${HOST}:${port}`], ['ignore', 'ignore', 'pipe', 'ipc']);
}

function isRunning(child) {
  return child.exitCode === null && child.signalCode === null;
}

function assertRunning(child) {
  if (!isRunning(child)) {
    throw new Error(`${child.label} exited (code ${child.exitCode}, signal ${child.signalCode}); stderr:\n${child.stderrTail || '(empty)'}`);
  }
}

/** SIGTERM, then SIGKILL if the child has not gone within a few seconds. */
async function stopChild(child) {
  if (!isRunning(child)) return;
  child.kill('SIGTERM');
  const gone = await Promise.race([child.exited.then(() => true), sleep(5000).then(() => false)]);
  if (!gone) {
    child.kill('SIGKILL');
    await child.exited;
  }
}

async function stopAll() {
  await Promise.all([...children].map(stopChild));
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds (user + system, all threads) a child has used so far, from /proc (Linux). Per call this is
 * a steadier measure than rps on a busy machine: it does not count time spent waiting for a core.
 */
function cpuSeconds(child) {
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from #3 (state) on
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // #14 utime, #15 stime
  } catch {
    return undefined;
  }
}

/** Resident memory of a child in MB (Linux /proc); a climb across runs would point at a leak. */
function rssMb(child) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// Readiness and one-off sanity Checks (not used for load)

/** grpc.health.v1 client from grpc-health-check's own service definition. */
function healthCheck(address) {
  const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Health(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.Check({ service: 'envoy.service.auth.v3.Authorization' }, { deadline: Date.now() + 2000 }, (error, response) => {
      client.close();
      if (error) reject(error);
      else resolve(response.status);
    });
  });
}

/**
 * One Check with grpcurl. grpcurl, like ghz, reads the request in proto JSON (e.g. the RFC 3339
 * Timestamp in the example), which proto-loader's object form does not accept.
 */
function grpcurlCheck(grpcurl, address, dataFile) {
  const args = [
    '-plaintext',
    ...envoyProtoDirs().flatMap((dir) => ['-import-path', dir]), // repeated, not comma-separated as in ghz
    '-proto', AUTHORIZATION_PROTO,
    '-connect-timeout', '2',
    '-max-time', '5',
    '-d', '@',
    address,
    CHECK_METHOD,
  ];
  return new Promise((resolve, reject) => {
    const child = execFile(grpcurl, args, { cwd: ROOT, timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`grpcurl Check on ${address}: ${stderr.trim() || error.message}`));
      else resolve(JSON.parse(stdout));
    });
    child.stdin.end(readFileSync(dataFile));
  });
}

/** Polls `probe` until it resolves truthy; gives up early if the server process died. */
async function waitUntilReady(child, probe, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    assertRunning(child);
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(200);
  }
  throw new Error(`${child.label} not ready after ${timeoutMs} ms: ${lastError?.message ?? 'not serving'}`);
}

/** CheckResponse status code; proto3 leaves code 0 (OK) off the wire, so absent means 0. */
const statusCodeOf = (response) => response?.status?.code ?? 0;

// ---------------------------------------------------------------------------------------------------
// meshwarden's decision log: proves every request got the decision we meant to benchmark

class LogTail {
  constructor(path) {
    this.path = path;
    this.offset = 0;
    this.partial = '';
  }

  /** Complete lines appended since the last call. */
  readNewLines() {
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return [];
      const buffer = Buffer.alloc(size - this.offset);
      readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset = size;
      const lines = (this.partial + buffer.toString('utf8')).split('\n');
      this.partial = lines.pop();
      return lines.filter((line) => line.length > 0);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Tallies decision lines written since the last tally, waiting for at least `expected` of them: pino
 * writes asynchronously, so the last lines can land a moment after ghz returns.
 */
async function tallyDecisions(log, expected, timeoutMs = 10_000) {
  const tally = { decisions: 0, reasons: {}, problems: [] };
  const take = (lines) => {
    for (const line of lines) {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        tally.problems.push(`unparsable log line: ${line.slice(0, 200)}`);
        continue;
      }
      if (entry.msg === 'decision') {
        tally.decisions += 1;
        tally.reasons[entry.reason] = (tally.reasons[entry.reason] ?? 0) + 1;
      }
      // Anything above info (or any other message) under load is worth reporting.
      if (entry.msg !== 'decision' || entry.level !== 'info') tally.problems.push(line.slice(0, 500));
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (tally.decisions < expected && Date.now() < deadline) {
    take(log.readNewLines());
    if (tally.decisions < expected) await sleep(100);
  }
  await sleep(200); // catch stragglers so they do not spill into the next run's tally
  take(log.readNewLines());
  return tally;
}

// ---------------------------------------------------------------------------------------------------
// ghz

/** A pinned Go tool from .tools/bin; if missing (npm run bench installs ghz first), the pinned installer adds it. */
async function toolPath(name) {
  const local = join(ROOT, '.tools', 'bin', name);
  if (existsSync(local)) return local;
  const tools = await import(join(ROOT, 'scripts', 'tools.mjs'));
  return tools.ensureTool(name);
}

/** One ghz run at fixed concurrency for a fixed time; returns ghz's parsed JSON report. */
function runGhz(ghz, { address, dataFile, seconds, outFile }) {
  const args = [
    '--insecure',
    '--proto', AUTHORIZATION_PROTO,
    '--import-paths', envoyProtoDirs().join(','),
    '--call', CHECK_METHOD,
    '--data-file', dataFile,
    '--concurrency', String(SETTINGS.concurrency),
    '--connections', '1', // one HTTP/2 connection, as one Envoy worker thread keeps to its ext_authz cluster
    '--duration', `${seconds}s`,
    '--duration-stop', 'wait', // let in-flight calls finish and count them, so no "transport closing" errors
    // The data has no templates; skipping template processing keeps the client's CPU share down on 2 cores.
    '--disable-template-functions',
    '--disable-template-data',
    '--format', 'json',
    '--output', outFile,
    address,
  ];
  return new Promise((resolve, reject) => {
    const child = execFile(ghz, args, { cwd: ROOT, timeout: (seconds + 60) * 1000, maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
      children.delete(child);
      if (error) reject(new Error(`ghz against ${address} failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(readFileSync(outFile, 'utf8')));
    });
    child.label = 'ghz';
    child.exited = new Promise((done) => child.once('exit', done));
    children.add(child);
  });
}

const nsToMs = (ns) => Math.round(ns / 10_000) / 100;

function percentileMs(report, percentage) {
  const entry = (report.latencyDistribution ?? []).find((item) => item.percentage === percentage);
  return entry ? nsToMs(entry.latency) : undefined;
}

/** The figures we keep from a ghz report (it also lists every single request, which we drop). */
function summarize(report) {
  return {
    count: report.count,
    rps: Math.round(report.rps),
    p50Ms: percentileMs(report, 50),
    p99Ms: percentileMs(report, 99),
    averageMs: nsToMs(report.average),
    slowestMs: nsToMs(report.slowest),
    endReason: report.endReason,
    statusCodes: report.statusCodeDistribution ?? {},
    errors: report.errorDistribution ?? {},
  };
}

/** Every call must have come back gRPC OK; ghz counts failed calls separately from `count`. */
function assertNoErrors(label, summary) {
  const errorCount = Object.values(summary.errors).reduce((sum, n) => sum + n, 0);
  const notOk = Object.entries(summary.statusCodes).filter(([status]) => status !== 'OK');
  if (summary.count === 0 || errorCount > 0 || notOk.length > 0) {
    throw new Error(`${label}: ${summary.count} calls, errors ${JSON.stringify(summary.errors)}, statuses ${JSON.stringify(summary.statusCodes)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// The benchmark

/** The allowed request from examples/, and the same request from a principal the policy denies. */
function writeRequests(dir) {
  const allowed = JSON.parse(readFileSync(ALLOWED_REQUEST, 'utf8'));
  const denied = structuredClone(allowed);
  denied.attributes.source.principal = DENIED_PRINCIPAL;
  const deniedFile = join(dir, 'denied-request.json');
  writeFileSync(deniedFile, JSON.stringify(denied));
  return { allowedFile: ALLOWED_REQUEST, deniedFile };
}

/** One Check each way before any load: the benchmark must measure the decisions it claims to measure. */
async function sanityCheck(grpcurl, noopAddress, meshwardenAddress, requests) {
  const expectations = [
    ['noop', noopAddress, requests.allowedFile, 0],
    ['meshwarden, allowed request', meshwardenAddress, requests.allowedFile, 0],
    ['meshwarden, denied request', meshwardenAddress, requests.deniedFile, 7], // google.rpc.Code PERMISSION_DENIED
  ];
  for (const [label, address, dataFile, expected] of expectations) {
    const code = statusCodeOf(await grpcurlCheck(grpcurl, address, dataFile));
    if (code !== expected) throw new Error(`sanity check, ${label}: CheckResponse status ${code}, expected ${expected}`);
  }
}

/** One measured (or warm-up) run of one case, with all its checks. */
async function runCase(ghz, benchCase, { seconds, round, dir, log, servers }) {
  const outFile = join(dir, `ghz-${benchCase.id}-${round}.json`);
  const cpuBefore = cpuSeconds(benchCase.server);
  const summary = summarize(await runGhz(ghz, { address: benchCase.address, dataFile: benchCase.dataFile, seconds, outFile }));
  const cpuUsed = cpuSeconds(benchCase.server) - cpuBefore;
  if (!SETTINGS.keep) rmSync(outFile, { force: true });
  const label = `${benchCase.name} (${round})`;
  assertNoErrors(label, summary);
  for (const server of servers) assertRunning(server);

  const result = {
    case: benchCase.id,
    round,
    ...summary,
    serverCpuUsPerCall: Number.isFinite(cpuUsed) ? Math.round((cpuUsed * 1e6) / summary.count) : undefined,
    rssMb: rssMb(benchCase.server),
  };
  if (benchCase.expectedReason !== undefined) {
    const tally = await tallyDecisions(log, summary.count);
    result.decisions = tally.reasons;
    result.serverProblems = tally.problems.slice(0, 20);
    const wrong = Object.entries(tally.reasons).filter(([reason]) => reason !== benchCase.expectedReason);
    if (tally.decisions < summary.count || wrong.length > 0) {
      throw new Error(`${label}: ghz completed ${summary.count} calls but meshwarden logged ${JSON.stringify(tally.reasons)} (expected only "${benchCase.expectedReason}")`);
    }
  }
  return result;
}

function median(values) {
  const sorted = values.filter((value) => value !== undefined).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function summarizeCases(cases, runs) {
  return cases.map((benchCase) => {
    const mine = runs.filter((run) => run.case === benchCase.id);
    return {
      case: benchCase.id,
      name: benchCase.name,
      rounds: mine.length,
      rps: Math.round(median(mine.map((run) => run.rps))),
      p50Ms: median(mine.map((run) => run.p50Ms)),
      p99Ms: median(mine.map((run) => run.p99Ms)),
      rpsPerRound: mine.map((run) => run.rps),
      serverCpuUsPerCall: median(mine.map((run) => run.serverCpuUsPerCall)),
      calls: mine.reduce((sum, run) => sum + run.count, 0),
    };
  });
}

function printTable(summaries) {
  const header = ['case', 'rps (median)', 'p50 ms', 'p99 ms', 'rps per round', 'server CPU us/call', 'calls'];
  const rows = summaries.map((s) => [s.name, String(s.rps), String(s.p50Ms), String(s.p99Ms), s.rpsPerRound.join(' / '), String(s.serverCpuUsPerCall ?? 'n/a'), String(s.calls)]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const format = (row) => row.map((cell, i) => (i === 0 || i === 4 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log('');
  console.log(format(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(format(row));
  console.log('');
}

async function main() {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npx tsc -p tsconfig.json) first`);
  const ghz = await toolPath('ghz');
  const grpcurl = await toolPath('grpcurl');
  const dir = mkdtempSync(join(tmpdir(), 'meshwarden-bench-'));
  workDir = dir;
  const logPath = join(dir, 'meshwarden.log');
  const requests = writeRequests(dir);

  const [meshwardenPort, noopPort] = [await freePort(), await freePort()];
  const adminPort = hasAdminEndpoint() ? await freePort() : undefined;
  const meshwarden = startMeshwarden(meshwardenPort, adminPort, logPath);
  const noop = startNoop(noopPort);
  const servers = [meshwarden, noop];
  const meshwardenAddress = `${HOST}:${meshwardenPort}`;
  const noopAddress = `${HOST}:${noopPort}`;

  // Ready = meshwarden reports SERVING (its policy is loaded); the no-op answers a Check.
  await waitUntilReady(meshwarden, async () => (await healthCheck(meshwardenAddress)) === 'SERVING');
  await waitUntilReady(noop, async () => statusCodeOf(await grpcurlCheck(grpcurl, noopAddress, requests.allowedFile)) === 0);
  await sanityCheck(grpcurl, noopAddress, meshwardenAddress, requests);

  const log = new LogTail(logPath);
  const startup = await tallyDecisions(log, 2); // start-up lines and the two sanity-check decisions
  const cases = [
    { id: 'noop', name: 'noop grpc-js (allowed req)', address: noopAddress, dataFile: requests.allowedFile, server: noop },
    { id: 'meshwarden-allow', name: 'meshwarden allowed req', address: meshwardenAddress, dataFile: requests.allowedFile, server: meshwarden, expectedReason: 'allowed' },
    { id: 'meshwarden-deny', name: 'meshwarden denied req', address: meshwardenAddress, dataFile: requests.deniedFile, server: meshwarden, expectedReason: 'policy_denied' },
  ];
  const context = { dir, log, servers };

  // Warm-up: JIT, wasm tier-up and connection set-up should not land in the first measured round.
  console.log(`warm-up: ${SETTINGS.warmupSeconds}s per case at -c ${SETTINGS.concurrency}`);
  const warmups = [];
  for (const benchCase of cases) warmups.push(await runCase(ghz, benchCase, { ...context, seconds: SETTINGS.warmupSeconds, round: 'warmup' }));

  // Cases alternate within every round, so background noise on this machine hits all of them alike.
  const runs = [];
  for (let round = 1; round <= SETTINGS.rounds; round += 1) {
    for (const benchCase of cases) {
      const run = await runCase(ghz, benchCase, { ...context, seconds: SETTINGS.seconds, round });
      console.log(`round ${round}  ${benchCase.name.padEnd(27)} ${String(run.rps).padStart(6)} rps  p50 ${run.p50Ms} ms  p99 ${run.p99Ms} ms`);
      runs.push(run);
    }
  }

  const summaries = summarizeCases(cases, runs);
  const byId = Object.fromEntries(summaries.map((s) => [s.case, s]));
  const ratio = byId['meshwarden-allow'].rps / byId.noop.rps;
  const deniedRatio = byId['meshwarden-deny'].rps / byId.noop.rps;
  // Start-up info lines ("serving", "admin endpoint listening") are expected; anything louder is not.
  const startupProblems = startup.problems.filter((line) => !line.includes('"level":"info"'));
  const serverProblems = [...startupProblems, ...runs.flatMap((run) => run.serverProblems ?? [])];
  const decisionMetrics = adminPort === undefined ? undefined : await fetchDecisionMetrics(adminPort);
  const results = {
    date: new Date().toISOString(),
    settings: { ...SETTINGS, connections: 1, ghz },
    environment: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavg: loadavg() },
    summary: summaries,
    ratio: { meshwardenAllowedOverNoop: round2(ratio), meshwardenDeniedOverNoop: round2(deniedRatio), target: TARGET_RATIO },
    serverProblems,
    meshwardenRssMb: runs.filter((run) => run.case !== 'noop').map((run) => run.rssMb),
    meshwardenDecisionMetrics: decisionMetrics,
    warmups,
    runs,
  };

  printTable(summaries);
  if (serverProblems.length > 0) {
    console.log(`meshwarden logged ${serverProblems.length} non-decision or non-info line(s) under load, e.g.:`);
    for (const line of serverProblems.slice(0, 5)) console.log(`  ${line}`);
  }
  const resultsPath = join(dir, 'bench-results.json');
  writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');
  if (!SETTINGS.keep) rmSync(logPath, { force: true }); // hundreds of MB of decision lines; BENCH_KEEP=1 keeps it
  console.log(`results: ${resultsPath}`);
  console.log(`ratio: meshwarden/noop throughput (denied request) = ${round2(deniedRatio).toFixed(2)}`);
  console.log(`ratio: meshwarden/noop throughput = ${round2(ratio).toFixed(2)} (target >= ${TARGET_RATIO.toFixed(2)})`);
}

/** meshwarden's own decision counters from /metrics, kept in the results next to what the log showed. */
async function fetchDecisionMetrics(adminPort) {
  try {
    const response = await fetch(`http://${HOST}:${adminPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await response.text();
    return text.split('\n').filter((line) => line.startsWith('meshwarden_decisions_total') && !line.endsWith(' 0'));
  } catch (error) {
    return [`/metrics unavailable: ${error.message}`];
  }
}

function round2(value) {
  return Math.round(value * 100) / 100;
}

// ---------------------------------------------------------------------------------------------------
// Run with cleanup on every path: normal end, failure, Ctrl-C, and the overall time limit.

let finishing = false;
async function finish(code, message) {
  if (finishing) return;
  finishing = true;
  if (message) console.error(`check-bench: ${message}`);
  if (code !== 0 && workDir) console.error(`check-bench: server log and files kept in ${workDir}`);
  await stopAll();
  process.exit(code);
}

// Last resort if the process exits some other way: no server may outlive the benchmark.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
process.on('SIGINT', () => void finish(130, 'interrupted'));
process.on('SIGTERM', () => void finish(143, 'terminated'));
setTimeout(() => void finish(1, `gave up after ${OVERALL_LIMIT_MS / 1000}s (overall limit)`), OVERALL_LIMIT_MS).unref();

main().then(
  () => finish(0),
  (error) => finish(1, error instanceof Error ? error.message : String(error)),
);
