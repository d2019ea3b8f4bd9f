#!/usr/bin/env node
// The yardstick (issue 12): meshwarden against the real opa-envoy-plugin (OEP) and the no-op grpc-js floor, on
// the same scenario, in one run, side by side.
//
// The scenario is the regulated-data case: only spiffe://cluster.local/ns/analytics/sa/analytics may GET
// /api/v1/data on spiffe://cluster.local/ns/data/sa/data. meshwarden serves it with its embedded default
// rules (policies/default/rules.yaml), with the same decisions written in Rego (regulated-data/policy.rego)
// as a --bundle, and with rules files of 1,000 and 10,000 rules (rules-files.mjs; the scenario's rule among
// them); OEP serves that Rego, without a decision log (its default) and with its console decision log
// (meshwarden's log is on by default). The no-op grpc-js Check server (noop-server.mjs) is the floor any
// grpc-js server can reach. Where OEP is not built (../shared absent) its rows are skipped with a loud line.
//
// Every server is pinned to core 1 and ghz to core 0 (taskset) when the machine has two cores or more, so the
// figures are one core's. Each case runs at maximum load (BENCH_CONCURRENCY calls in flight on one
// connection) and at a fixed rate (BENCH_RATE checks/s), the cases alternating within every round so the
// machine's noise lands on all of them alike; medians over the rounds, with the spread (min-max). CPU per
// check comes from /proc (user + system of the server and its workers), which does not count time spent
// waiting for a core, so it is the steadier figure on a shared machine. Only ratios within one run mean
// anything: they are printed, never asserted. What is asserted: every call came back gRPC OK, and every
// call got the expected decision, by the decision log of every server that writes one (meshwarden: reason
// and deciding rule; OEP with its console log: the result), and by a Check each way before and after the
// load on every server (the only proof for OEP without a log and for the floor, which allows everything).
//
// The transport's cost is measured in the same run (transport-cases.mjs): meshwarden with the default rules over
// TLS, over mutual TLS with a SPIFFE allow-list, and with tracing on, its spans exported to Jaeger all-in-one
// (when .tools/bin/jaeger is installed) or to an OTLP/HTTP sink; their table gives ratios to plaintext
// meshwarden, and the run fails if the collector received nothing.
//
// Usage: npm run bench   (or: npx tsc -p tsconfig.json && node test/bench/check-bench.mjs)
// Tuning (environment): BENCH_ROUNDS (5), BENCH_SECONDS per run (5), BENCH_WARMUP_SECONDS (2),
// BENCH_CONCURRENCY (16), BENCH_RATE (2000 checks/s), BENCH_SIZES (rules files: 1000,10000),
// BENCH_WORKERS (the multi-worker case's --workers: 2; 0 leaves the case out), BENCH_TRANSPORT=0 (no TLS,
// mutual TLS and tracing cases), BENCH_PIN=0 (no taskset),
// BENCH_KEEP=1 keeps the logs and raw ghz reports in the temp dir.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ALLOWED_REQUEST, CLI, HERE, HOST, LogTail, PINNING, ROOT, assertRunning, benchSettings, freePort, grpcurlCheck, healthCheck,
  intFromEnv, measureRun, median, printTable, round2, runBenchmark, sleep, startChild, startMeshwarden, startNoop,
  statusCodeOf, toolPath, waitUntilReady,
} from './harness.mjs';
import { EXPECTED_RULE, writeRulesFile } from './rules-files.mjs';
import { startCollector, tlsServeArgs, tlsTransport, writeBenchCertificates } from './transport-cases.mjs';

const SETTINGS = { ...benchSettings(), concurrency: intFromEnv('BENCH_CONCURRENCY', 16) };
const RATE = intFromEnv('BENCH_RATE', 2000);
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number).filter((size) => Number.isInteger(size) && size >= 2);
const WORKERS = process.env.BENCH_WORKERS === '0' ? 0 : intFromEnv('BENCH_WORKERS', 2);
const REGO_DIR = join(HERE, 'regulated-data');
const REGO = join(REGO_DIR, 'policy.rego');
const DECISION = 'envoy/authz/allow';
const DENIED_PRINCIPAL = 'spiffe://cluster.local/ns/analytics/sa/default';
const MODES = [
  { id: 'max', title: `maximum load (${SETTINGS.concurrency} calls in flight, one connection)` },
  { id: 'rate', title: `fixed rate (${RATE} checks/s, up to ${SETTINGS.concurrency} in flight)`, rps: RATE },
];

// ---------------------------------------------------------------------------------------------------
// Servers

/** The denied request: the allowed one from a caller the scenario does not admit. */
function writeDeniedRequest(dir) {
  const denied = JSON.parse(readFileSync(ALLOWED_REQUEST, 'utf8'));
  denied.attributes.source.principal = DENIED_PRINCIPAL;
  const file = join(dir, 'denied-request.json');
  writeFileSync(file, JSON.stringify(denied));
  return file;
}

/** The scenario's Rego as meshwarden serves it: `opa build -t wasm -e envoy/authz/allow`. */
function buildBundle(opa, dir) {
  const bundle = join(dir, 'regulated-data.tar.gz');
  execFileSync(opa, ['build', '-t', 'wasm', '-e', DECISION, '-o', bundle, 'policy.rego'], { cwd: REGO_DIR, stdio: ['ignore', 'ignore', 'pipe'] });
  return bundle;
}

/**
 * OEP serving the scenario's Rego; with `logPath`, its console decision log (which OEP writes to stderr,
 * with its own log lines) goes to that file. Ready on /health?plugins.
 */
async function startOep(binary, dir, { id, logPath, pin = true }) {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const config = join(dir, `${id}.yaml`);
  const lines = ['plugins:', '  envoy_ext_authz_grpc:', `    addr: ${HOST}:${grpcPort}`, `    path: ${DECISION}`];
  if (logPath !== undefined) lines.push('decision_logs:', '  console: true');
  writeFileSync(config, lines.join('\n') + '\n');
  const args = ['run', '--server', `--addr=${HOST}:${httpPort}`, `--config-file=${config}`, '--skip-version-check', '--log-level=error', REGO];
  let child;
  if (logPath === undefined) {
    child = startChild(id, args, ['ignore', 'ignore', 'pipe'], { command: binary, pin });
  } else {
    const out = openSync(logPath, 'a');
    child = startChild(id, args, ['ignore', 'ignore', out], { command: binary });
    closeSync(out);
  }
  await waitUntilReady(child, async () => (await fetch(`http://${HOST}:${httpPort}/health?plugins`)).status === 200, 60_000);
  return { child, address: `${HOST}:${grpcPort}` };
}

async function startMeshwardenCase(dir, id, extraArgs, { pin = true, transport } = {}) {
  const port = await freePort();
  const logPath = join(dir, `${id}.log`);
  writeFileSync(logPath, '');
  const child = startMeshwarden(port, undefined, logPath, { label: id, extraArgs: ['--admin-addr', 'off', ...extraArgs], pin });
  const address = `${HOST}:${port}`;
  await waitUntilReady(child, async () => (await healthCheck(address, transport)) === 'SERVING', 120_000);
  return { child, address, log: new LogTail(logPath), logPath, transport };
}

// ---------------------------------------------------------------------------------------------------
// Decisions

/**
 * Waits until `expected` decision lines were appended to `log` (loggers write asynchronously) and counts
 * those `classify` accepts; lines it returns undefined for are not decisions (start-up lines).
 */
async function tallyLog(log, expected, classify, timeoutMs = 15_000) {
  const tally = { decisions: 0, right: 0, wrong: [] };
  const take = () => {
    for (const line of log.readNewLines()) {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        tally.wrong.push(`unparsable: ${line.slice(0, 200)}`);
        continue;
      }
      const verdict = classify(entry);
      if (verdict === undefined) continue;
      tally.decisions += 1;
      if (verdict) tally.right += 1;
      else if (tally.wrong.length < 5) tally.wrong.push(line.slice(0, 300));
    }
  };
  const deadline = Date.now() + timeoutMs;
  do {
    take();
    if (tally.decisions >= expected) break;
    await sleep(100);
  } while (Date.now() < deadline);
  await sleep(100);
  take(); // stragglers, so they do not spill into the next run's tally
  return tally;
}

/** meshwarden's decision line for the allowed request: reason allowed, and by the scenario's rule when rules decide. */
const meshwardenAllowed = (byRule) => (entry) => (entry.msg !== 'decision' ? undefined : entry.reason === 'allowed' && entry.allowed === true && (!byRule || entry.rule === EXPECTED_RULE));
/** OEP's console decision log: one "Decision Log" event per Check, the decision as `result`. */
const oepAllowed = (entry) => (entry.msg !== 'Decision Log' ? undefined : entry.result === true);

/** One Check each way on every server: allowed (code 0) and denied (code 7, PERMISSION_DENIED; the floor allows all). */
async function checkDecisions(grpcurl, cases, deniedFile, when) {
  for (const benchCase of cases) {
    const allowed = statusCodeOf(await grpcurlCheck(grpcurl, benchCase.address, ALLOWED_REQUEST, benchCase.transport));
    if (allowed !== 0) throw new Error(`${when}, ${benchCase.name}: the allowed request got status ${allowed}`);
    if (benchCase.id === 'noop') continue;
    const denied = statusCodeOf(await grpcurlCheck(grpcurl, benchCase.address, deniedFile, benchCase.transport));
    if (denied !== 7) throw new Error(`${when}, ${benchCase.name}: the denied request got status ${denied}, expected 7`);
  }
  // Those Checks' own decision lines are not the load's.
  for (const benchCase of cases) if (benchCase.log !== undefined) await tallyLog(benchCase.log, benchCase.id === 'noop' ? 1 : 2, benchCase.classify, 5000);
}

// ---------------------------------------------------------------------------------------------------
// Runs and figures

async function runCase(ghz, benchCase, mode, { seconds, round, dir, servers }) {
  const result = await measureRun(ghz, {
    id: benchCase.id, name: benchCase.name, address: benchCase.address, server: benchCase.child, dataFile: ALLOWED_REQUEST,
    seconds, concurrency: SETTINGS.concurrency, round, dir, keep: SETTINGS.keep, servers, rps: mode.rps, connections: benchCase.connections,
    transport: benchCase.transport,
  });
  result.mode = mode.id;
  if (benchCase.log !== undefined) {
    const tally = await tallyLog(benchCase.log, result.count, benchCase.classify);
    result.decisionsLogged = tally.decisions;
    if (tally.decisions !== result.count || tally.right !== tally.decisions) {
      throw new Error(`${benchCase.name} (${mode.id}, ${round}): ghz completed ${result.count} calls, the log has ${tally.decisions} decisions, ${tally.right} of them the expected one; e.g. ${tally.wrong.join(' | ')}`);
    }
  }
  return result;
}

const spread = (values) => (values.length < 2 ? '' : ` (${Math.min(...values)}-${Math.max(...values)})`);

function summarize(cases, runs, mode) {
  return cases.map((benchCase) => {
    const mine = runs.filter((run) => run.case === benchCase.id && run.mode === mode.id);
    const cpu = mine.map((run) => run.serverCpuUsPerCall).filter((value) => value !== undefined);
    return {
      case: benchCase.id,
      name: benchCase.name,
      rps: Math.round(median(mine.map((run) => run.rps))),
      rpsSpread: spread(mine.map((run) => run.rps)),
      p50Us: median(mine.map((run) => run.p50Us)),
      p99Us: median(mine.map((run) => run.p99Us)),
      cpuUs: median(cpu),
      cpuSpread: spread(cpu),
      calls: mine.reduce((sum, run) => sum + run.count, 0),
    };
  });
}

const ratio = (a, b) => (a === undefined || b === undefined || b === 0 ? '-' : round2(a / b).toFixed(2));

function printMode(mode, summaries) {
  const oep = summaries.find((s) => s.case === 'oep');
  const floor = summaries.find((s) => s.case === 'noop');
  console.log(`\n== ${mode.title}; ratios against OEP (no log) and the floor`);
  const header = ['case', 'rps (spread)', 'p50 us', 'p99 us', 'CPU us/check (spread)', 'rps/OEP', 'CPU/OEP', 'p50/OEP', 'p99/OEP', 'rps/floor', 'CPU/floor', 'calls'];
  const rows = summaries.map((s) => [
    s.name, `${s.rps}${s.rpsSpread}`, String(s.p50Us), String(s.p99Us), `${s.cpuUs ?? 'n/a'}${s.cpuSpread}`,
    ratio(s.rps, oep?.rps), ratio(s.cpuUs, oep?.cpuUs), ratio(s.p50Us, oep?.p50Us), ratio(s.p99Us, oep?.p99Us),
    ratio(s.rps, floor?.rps), ratio(s.cpuUs, floor?.cpuUs), String(s.calls),
  ]);
  printTable(header, rows, [0]);
}

/** TLS, mutual TLS and tracing against plaintext meshwarden with the same rules, in the same run. */
function printTransport(mode, summaries) {
  const plaintext = summaries.find((s) => s.case === 'mw-default');
  const rows = summaries
    .filter((s) => TRANSPORT_CASES.has(s.case))
    .map((s) => [s.name, `${s.rps}${s.rpsSpread}`, String(s.p50Us), String(s.p99Us), `${s.cpuUs ?? 'n/a'}${s.cpuSpread}`, ratio(s.rps, plaintext?.rps), ratio(s.cpuUs, plaintext?.cpuUs), ratio(s.p50Us, plaintext?.p50Us), ratio(s.p99Us, plaintext?.p99Us), String(s.calls)]);
  if (rows.length === 0) return;
  console.log(`\n== ${mode.title}; TLS, mutual TLS and tracing against plaintext meshwarden (default rules)`);
  printTable(['case', 'rps (spread)', 'p50 us', 'p99 us', 'CPU us/check (spread)', 'rps/plain', 'CPU/plain', 'p50/plain', 'p99/plain', 'calls'], rows, [0]);
}

const TRANSPORT_CASES = new Set(process.env.BENCH_TRANSPORT === '0' ? [] : ['mw-tls', 'mw-mtls', 'mw-tracing']);

// ---------------------------------------------------------------------------------------------------

async function main(run) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npx tsc -p tsconfig.json) first`);
  const [ghz, grpcurl, opa] = [await toolPath('ghz'), await toolPath('grpcurl'), await toolPath('opa')];
  const tools = await import(join(ROOT, 'scripts', 'tools.mjs'));
  let oepBinary;
  try {
    oepBinary = tools.ensureOpaEnvoyPlugin();
  } catch (error) {
    console.log(`!!! opa-envoy-plugin build failed: ${error.message}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'meshwarden-bench-'));
  run.workDir = dir;
  const deniedFile = writeDeniedRequest(dir);
  const bundle = buildBundle(opa, dir);
  console.log(PINNING ? `pinning: servers on core ${PINNING.server}, ghz on core ${PINNING.load} (taskset)` : `pinning: none (${availableParallelism()} core(s) or BENCH_PIN=0)`);
  console.log(`load average before: ${loadavg().map((value) => value.toFixed(2)).join(' ')} on ${cpus().length} cores`);

  const cases = [];
  const noopPort = await freePort();
  const noop = startNoop(noopPort);
  cases.push({ id: 'noop', name: 'floor: no-op grpc-js', address: `${HOST}:${noopPort}`, child: noop });
  if (oepBinary === undefined || !existsSync(oepBinary)) {
    console.log('!!! opa-envoy-plugin NOT BUILT (../shared/opa-envoy-plugin absent or its build failed): its rows are SKIPPED, no OEP ratios');
  } else {
    const oep = await startOep(oepBinary, dir, { id: 'oep' });
    cases.push({ id: 'oep', name: 'OEP v1.19.1, Rego (no log)', ...oep });
    const logPath = join(dir, 'oep-log.log');
    writeFileSync(logPath, '');
    const logged = await startOep(oepBinary, dir, { id: 'oep-log', logPath });
    cases.push({ id: 'oep-log', name: 'OEP, console decision log', ...logged, log: new LogTail(logPath), classify: oepAllowed });
    if (WORKERS > 1) {
      // OEP on every core, as it runs in a pod, driven as the multi-worker case below is.
      const everyCore = await startOep(oepBinary, dir, { id: 'oep-all-cores', pin: false });
      cases.push({ id: 'oep-all-cores', connections: 2 * WORKERS, name: `OEP, unpinned (${2 * WORKERS} conns)`, ...everyCore });
    }
  }
  const single = ['--workers', '1'];
  cases.push({ id: 'mw-default', name: 'meshwarden, default rules', ...(await startMeshwardenCase(dir, 'mw-default', single)), classify: meshwardenAllowed(true) });
  cases.push({ id: 'mw-bundle', name: 'meshwarden, Rego --bundle', ...(await startMeshwardenCase(dir, 'mw-bundle', [...single, '--bundle', bundle, '--decision', DECISION])), classify: meshwardenAllowed(false) });
  for (const size of SIZES) {
    const rules = writeRulesFile(dir, size);
    cases.push({ id: `mw-rules-${size}`, name: `meshwarden, ${size} rules`, ...(await startMeshwardenCase(dir, `mw-rules-${size}`, [...single, '--rules', rules.file])), classify: meshwardenAllowed(true) });
  }
  // The transport's cost: the default rules over TLS, over mutual TLS (the caller held to a SPIFFE allow-list),
  // and in plaintext with a span per Check exported to a real collector.
  const certificates = TRANSPORT_CASES.size === 0 ? undefined : await writeBenchCertificates(dir);
  const collector = TRANSPORT_CASES.size === 0 ? undefined : await startCollector(dir);
  if (certificates !== undefined && collector !== undefined) {
    for (const [id, name, mutual] of [['mw-tls', 'meshwarden, TLS', false], ['mw-mtls', 'meshwarden, mTLS + SPIFFE allow-list', true]]) {
      const transport = tlsTransport(certificates, { mutual });
      cases.push({ id, name, ...(await startMeshwardenCase(dir, id, [...single, ...tlsServeArgs(certificates, { mutual })], { transport })), classify: meshwardenAllowed(true) });
    }
    console.log(`tracing case: spans exported to ${collector.name}`);
    cases.push({ id: 'mw-tracing', name: 'meshwarden, tracing on (OTLP)', ...(await startMeshwardenCase(dir, 'mw-tracing', [...single, '--otlp-traces-endpoint', collector.endpoint])), classify: meshwardenAllowed(true) });
  }
  if (WORKERS > 1) {
    // Unpinned: its workers use every core, ghz's included, so its figure is CPU per check staying flat. The
    // primary hands each connection to one worker: ghz opens one per worker, twice over.
    cases.push({ id: 'mw-workers', connections: 2 * WORKERS, name: `meshwarden, ${WORKERS} workers (unpinned, ${2 * WORKERS} conns)`, ...(await startMeshwardenCase(dir, 'mw-workers', ['--workers', String(WORKERS)], { pin: false })), classify: meshwardenAllowed(true) });
  }
  const servers = cases.map((benchCase) => benchCase.child);
  await checkDecisions(grpcurl, cases, deniedFile, 'before the load');

  const context = { dir, servers };
  console.log(`warm-up: ${SETTINGS.warmupSeconds}s per case at maximum load`);
  for (const benchCase of cases) await runCase(ghz, benchCase, MODES[0], { ...context, seconds: SETTINGS.warmupSeconds, round: 'warmup' });

  const runs = [];
  for (let round = 1; round <= SETTINGS.rounds; round += 1) {
    for (const mode of MODES) {
      for (const benchCase of cases) {
        const result = await runCase(ghz, benchCase, mode, { ...context, seconds: SETTINGS.seconds, round });
        console.log(`round ${round} ${mode.id.padEnd(4)} ${benchCase.name.padEnd(36)} ${String(result.rps).padStart(6)} rps  p50 ${result.p50Us} us  p99 ${result.p99Us} us  CPU ${result.serverCpuUsPerCall} us/check`);
        runs.push(result);
      }
    }
  }
  await checkDecisions(grpcurl, cases, deniedFile, 'after the load');
  for (const child of servers) assertRunning(child);
  // The tracing case measured what it says only if its spans reached the collector (batches leave every 5 s at most).
  if (collector !== undefined) {
    let received = 0;
    for (let attempt = 0; attempt < 100 && (received = await collector.received()) === 0; attempt++) await sleep(100);
    if (received === 0) throw new Error(`the tracing case exported nothing to ${collector.name}`);
    console.log(`${collector.name} received ${received} ${collector.unit}`);
    await collector.close();
  }

  const summaries = Object.fromEntries(MODES.map((mode) => [mode.id, summarize(cases, runs, mode)]));
  for (const mode of MODES) printMode(mode, summaries[mode.id]);
  for (const mode of MODES) printTransport(mode, summaries[mode.id]);
  const results = {
    date: new Date().toISOString(),
    settings: { ...SETTINGS, rate: RATE, sizes: SIZES, workers: WORKERS, pinning: PINNING ?? null, connections: 1, ghz, oep: oepBinary ?? null },
    environment: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavgAfter: loadavg() },
    summaries,
    runs,
  };
  const resultsPath = join(dir, 'bench-results.json');
  writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');
  if (!SETTINGS.keep) for (const benchCase of cases) if (benchCase.logPath !== undefined) rmSync(benchCase.logPath, { force: true });
  if (!SETTINGS.keep) for (const file of Object.values(certificates ?? {})) rmSync(file, { force: true });
  console.log(`load average after: ${loadavg().map((value) => value.toFixed(2)).join(' ')}`);
  console.log(`results: ${resultsPath}`);
}

const PLANNED_SECONDS = (3 + TRANSPORT_CASES.size + SIZES.length + (WORKERS > 1 ? 2 : 0)) * (SETTINGS.warmupSeconds + MODES.length * SETTINGS.rounds * SETTINGS.seconds);
runBenchmark('check-bench', (240 + 2 * PLANNED_SECONDS) * 1000, main);
