// Shared pieces of the ghz benchmarks (check-bench.mjs, rules-bench.mjs): child processes and their cleanup,
// /proc readings, readiness and one-off Checks, meshwarden's decision log, ghz runs and their summaries.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { AUTHORIZATION_PROTO, CHECK_METHOD, envoyProtoDirs } from './protos.mjs';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');
export const ALLOWED_REQUEST = join(ROOT, 'examples', 'requests', 'analytics-get-data.json');
export const HOST = '127.0.0.1'; // all traffic stays on loopback

export function intFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}=${raw} is not a positive whole number`);
  return value;
}

/** The settings both benchmarks share, from the environment (see the usage notes at the top of each). */
export function benchSettings() {
  return {
    // Five rounds: on a shared 2-core machine single rounds move by ±15 %, and the median of three is one of them.
    rounds: intFromEnv('BENCH_ROUNDS', 5),
    seconds: intFromEnv('BENCH_SECONDS', 5),
    warmupSeconds: intFromEnv('BENCH_WARMUP_SECONDS', 2),
    concurrency: intFromEnv('BENCH_CONCURRENCY', 50),
    keep: process.env.BENCH_KEEP === '1',
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------
// Servers

/** Every child we start (servers and ghz), so cleanup can end exactly those. */
const children = new Set();

/** A port nobody listens on right now (the OS picks it; the tiny race until the server binds is fine here). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Where the servers and the load generator run: on a machine with two or more cores, every server on core 1
 * and ghz on core 0 (taskset), so a server's figures are one core's and ghz never takes its CPU; otherwise
 * unpinned. BENCH_PIN=0 turns pinning off.
 */
export const PINNING = (() => {
  if (process.env.BENCH_PIN === '0' || availableParallelism() < 2) return undefined;
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return { server: '1', load: '0' };
  } catch {
    return undefined;
  }
})();

/** `command args` pinned to `core` with taskset (which execs it: the pid is the command's own). */
function pinned(core, command, args) {
  return core === undefined ? [command, args] : ['taskset', ['-c', core, command, ...args]];
}

/**
 * Spawns a child (node with `args`, or `command`), pinned to the server core, remembers it for cleanup,
 * and keeps the tail of its stderr for error messages. `pin: false` leaves it on every core.
 */
export function startChild(name, args, stdio, { command = process.execPath, pin = true } = {}) {
  const [file, argv] = pinned(pin ? PINNING?.server : undefined, command, args);
  const child = spawn(file, argv, { cwd: ROOT, stdio, env: process.env });
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
export function hasAdminEndpoint() {
  return execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' }).includes('--admin-addr');
}

/**
 * meshwarden as deployed: info-level decision logging on, stdout going to a file (read later to verify
 * decisions), the admin endpoint (if any) kept on but moved to a free loopback port. `extraArgs` are
 * further serve flags (e.g. --rules FILE); `cli` another build's dist/src/cli.js (a baseline to compare with).
 */
export function startMeshwarden(port, adminPort, logPath, { label = 'meshwarden', extraArgs = [], cli = CLI, pin = true } = {}) {
  const args = [cli, 'serve', '--grpc-addr', `${HOST}:${port}`, '--log-level', 'info', ...extraArgs];
  if (adminPort !== undefined) args.push('--admin-addr', `${HOST}:${adminPort}`);
  // No drain window: the benchmark stops the server only when it is done with it (a baseline build may
  // predate the flag, so only this build gets it).
  if (cli === CLI) args.push('--drain-ms', '0');
  const logFd = openSync(logPath, 'a');
  const child = startChild(label, args, ['ignore', logFd, 'pipe'], { pin });
  closeSync(logFd); // the child has its own copy
  return child;
}

/** The no-op baseline; the IPC channel lets it exit by itself if this process dies. */
export function startNoop(port) {
  return startChild('noop', [join(HERE, 'noop-server.mjs'), `${HOST}:${port}`], ['ignore', 'ignore', 'pipe', 'ipc']);
}

export function isRunning(child) {
  return child.exitCode === null && child.signalCode === null;
}

export function assertRunning(child) {
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

export async function stopAll() {
  await Promise.all([...children].map(stopChild));
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, all threads) of one process, from /proc/PID/stat; undefined once it is gone. */
function processCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from #3 (state) on
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // #14 utime, #15 stime
  } catch {
    return undefined;
  }
}

/** The live children of a process, from /proc/PID/task/TID/children. */
function childPids(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) => {
      try {
        return readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/**
 * CPU seconds (user + system, all threads) a child and its live descendants (meshwarden's workers) have
 * used so far, from /proc (Linux). Per call this is a steadier measure than rps on a busy machine: it does
 * not count time spent waiting for a core.
 */
export function cpuSeconds(child) {
  const own = processCpuSeconds(child.pid);
  if (own === undefined) return undefined;
  let total = own;
  const pending = childPids(child.pid);
  while (pending.length > 0) {
    const pid = pending.pop();
    total += processCpuSeconds(pid) ?? 0;
    pending.push(...childPids(pid));
  }
  return total;
}

/** A memory line of /proc/<pid>/status in MB: VmRSS (now) or VmHWM (peak so far). Linux only. */
function statusMb(child, field) {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Resident memory of a child in MB; a climb across runs would point at a leak. */
export const rssMb = (child) => statusMb(child, 'VmRSS');
/** Peak resident memory of a child in MB since it started. */
export const peakRssMb = (child) => statusMb(child, 'VmHWM');

// ---------------------------------------------------------------------------------------------------
// Readiness and one-off sanity Checks (not used for load)

/** grpc.health.v1 client from grpc-health-check's own service definition. */
export function healthCheck(address, transport) {
  const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Health(address, transport?.credentials ?? grpc.credentials.createInsecure(), transport?.options ?? {});
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
export function grpcurlCheck(grpcurl, address, dataFile, transport) {
  const args = [
    ...(transport?.grpcurl ?? ['-plaintext']),
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
export async function waitUntilReady(child, probe, timeoutMs = 30_000) {
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
export const statusCodeOf = (response) => response?.status?.code ?? 0;

// ---------------------------------------------------------------------------------------------------
// meshwarden's decision log: proves every request got the decision we meant to benchmark

export class LogTail {
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
 * Tallies decision lines written since the last tally (by reason, by allowed, by deciding rule when the
 * line names one), waiting for at least `expected` of them: pino writes asynchronously, so the last lines
 * can land a moment after ghz returns.
 */
export async function tallyDecisions(log, expected, timeoutMs = 10_000) {
  const tally = { decisions: 0, reasons: {}, allowed: {}, rules: {}, problems: [] };
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
        tally.allowed[String(entry.allowed)] = (tally.allowed[String(entry.allowed)] ?? 0) + 1;
        const rule = entry.rule ?? '(none)';
        tally.rules[rule] = (tally.rules[rule] ?? 0) + 1;
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

/** meshwarden's own decision counters from /metrics, kept in the results next to what the log showed. */
export async function fetchDecisionMetrics(adminPort) {
  try {
    const response = await fetch(`http://${HOST}:${adminPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await response.text();
    return text.split('\n').filter((line) => line.startsWith('meshwarden_decisions_total') && !line.endsWith(' 0'));
  } catch (error) {
    return [`/metrics unavailable: ${error.message}`];
  }
}

// ---------------------------------------------------------------------------------------------------
// ghz

/** A pinned Go tool from .tools/bin; if missing (npm run bench installs ghz first), the pinned installer adds it. */
export async function toolPath(name) {
  const local = join(ROOT, '.tools', 'bin', name);
  if (existsSync(local)) return local;
  const tools = await import(join(ROOT, 'scripts', 'tools.mjs'));
  return tools.ensureTool(name);
}

/**
 * One ghz run at fixed concurrency for a fixed time, at full speed or at `rps` calls per second, pinned to
 * the load core; returns ghz's parsed JSON report.
 */
export function runGhz(ghz, { address, dataFile, seconds, concurrency, outFile, rps, connections = 1, transport }) {
  const args = [
    ...(rps === undefined ? [] : ['--rps', String(rps)]),
    ...(transport?.ghz ?? ['--insecure']),
    '--proto', AUTHORIZATION_PROTO,
    '--import-paths', envoyProtoDirs().join(','),
    '--call', CHECK_METHOD,
    '--data-file', dataFile,
    '--concurrency', String(concurrency),
    // One HTTP/2 connection by default, as one Envoy worker thread keeps to its ext_authz cluster.
    '--connections', String(connections),
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
    const [file, argv] = pinned(PINNING?.load, ghz, args);
    const child = execFile(file, argv, { cwd: ROOT, timeout: (seconds + 60) * 1000, maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
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

function percentileUs(report, percentage) {
  const entry = (report.latencyDistribution ?? []).find((item) => item.percentage === percentage);
  return entry ? Math.round(entry.latency / 1000) : undefined;
}

/** The figures we keep from a ghz report (it also lists every single request, which we drop). */
export function summarize(report) {
  return {
    count: report.count,
    rps: Math.round(report.rps),
    p50Ms: percentileMs(report, 50),
    p99Ms: percentileMs(report, 99),
    p50Us: percentileUs(report, 50),
    p99Us: percentileUs(report, 99),
    averageMs: nsToMs(report.average),
    slowestMs: nsToMs(report.slowest),
    endReason: report.endReason,
    statusCodes: report.statusCodeDistribution ?? {},
    errors: report.errorDistribution ?? {},
  };
}

/** Every call must have come back gRPC OK; ghz counts failed calls separately from `count`. */
export function assertNoErrors(label, summary) {
  const errorCount = Object.values(summary.errors).reduce((sum, n) => sum + n, 0);
  const notOk = Object.entries(summary.statusCodes).filter(([status]) => status !== 'OK');
  if (summary.count === 0 || errorCount > 0 || notOk.length > 0) {
    throw new Error(`${label}: ${summary.count} calls, errors ${JSON.stringify(summary.errors)}, statuses ${JSON.stringify(summary.statusCodes)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Figures

export function median(values) {
  const sorted = values.filter((value) => value !== undefined).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function round2(value) {
  return Math.round(value * 100) / 100;
}

/** A plain-text table; columns listed in `leftAligned` (indexes) are padded on the right, the rest on the left. */
export function printTable(header, rows, leftAligned = [0]) {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const format = (row) => row.map((cell, i) => (leftAligned.includes(i) ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log('');
  console.log(format(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(format(row));
  console.log('');
}

// ---------------------------------------------------------------------------------------------------
// Run with cleanup on every path: normal end, failure, Ctrl-C, and the overall time limit.

/**
 * Runs `main(run)` and exits: 0 on success, 1 on failure or when `limitMs` passes, 130/143 on SIGINT/SIGTERM;
 * every child is stopped first. `main` sets `run.workDir` so a failure says where its files were kept.
 */
export function runBenchmark(name, limitMs, main) {
  const run = { workDir: undefined };
  let finishing = false;
  async function finish(code, message) {
    if (finishing) return;
    finishing = true;
    if (message) console.error(`${name}: ${message}`);
    if (code !== 0 && run.workDir) console.error(`${name}: server log and files kept in ${run.workDir}`);
    await stopAll();
    process.exit(code);
  }

  // Last resort if the process exits some other way: no server may outlive the benchmark.
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
  process.on('SIGINT', () => void finish(130, 'interrupted'));
  process.on('SIGTERM', () => void finish(143, 'terminated'));
  setTimeout(() => void finish(1, `gave up after ${limitMs / 1000}s (overall limit)`), limitMs).unref();

  main(run).then(
    () => finish(0),
    (error) => finish(1, error instanceof Error ? error.message : String(error)),
  );
}

/**
 * One ghz run against one server, with the checks every benchmark needs (no errors, every server still up),
 * and the server's CPU per call and memory.
 */
export async function measureRun(ghz, { id, name, address, server, dataFile, seconds, concurrency, round, dir, keep, servers, rps, connections, transport }) {
  const outFile = join(dir, `ghz-${id}-${round}${rps === undefined ? '' : `-rps${rps}`}.json`);
  const cpuBefore = cpuSeconds(server);
  const summary = summarize(await runGhz(ghz, { address, dataFile, seconds, concurrency, outFile, rps, connections, transport }));
  const cpuUsed = cpuSeconds(server) - cpuBefore;
  if (!keep) rmSync(outFile, { force: true });
  assertNoErrors(`${name} (${round})`, summary);
  for (const other of servers) assertRunning(other);
  return {
    case: id,
    round,
    ...summary,
    serverCpuUsPerCall: Number.isFinite(cpuUsed) ? Math.round((cpuUsed * 1e6) / summary.count) : undefined,
    rssMb: rssMb(server),
  };
}
