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
// Tuning (environment): BENCH_ROUNDS (5), BENCH_SECONDS per run (5), BENCH_WARMUP_SECONDS (2),
// BENCH_CONCURRENCY (50), BENCH_KEEP=1 keeps the server log and raw ghz reports in the temp dir.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  measureRun, ALLOWED_REQUEST, CLI, HOST, benchSettings, fetchDecisionMetrics, freePort, grpcurlCheck,
  hasAdminEndpoint, healthCheck, LogTail, median, printTable, round2, rssMb, runBenchmark, startMeshwarden,
  startNoop, statusCodeOf, tallyDecisions, toolPath, waitUntilReady
} from './harness.mjs';

const DENIED_PRINCIPAL = 'spiffe://cluster.local/ns/analytics/sa/default';

const SETTINGS = benchSettings();
const TARGET_RATIO = 0.6;
// Hard ceiling for the whole run, so a wedged server or ghz can never hang CI.
// Twice the planned load time plus two minutes for start-up, log checks and shutdown.
const OVERALL_LIMIT_MS = (120 + 2 * 3 * (SETTINGS.warmupSeconds + SETTINGS.rounds * SETTINGS.seconds)) * 1000;

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
  const result = await measureRun(ghz, {
    id: benchCase.id,
    name: benchCase.name,
    address: benchCase.address,
    server: benchCase.server,
    dataFile: benchCase.dataFile,
    seconds,
    concurrency: SETTINGS.concurrency,
    round,
    dir,
    keep: SETTINGS.keep,
    servers,
  });
  if (benchCase.expectedReason !== undefined) {
    const tally = await tallyDecisions(log, result.count);
    result.decisions = tally.reasons;
    result.serverProblems = tally.problems.slice(0, 20);
    const wrong = Object.entries(tally.reasons).filter(([reason]) => reason !== benchCase.expectedReason);
    if (tally.decisions < result.count || wrong.length > 0) {
      throw new Error(`${benchCase.name} (${round}): ghz completed ${result.count} calls but meshwarden logged ${JSON.stringify(tally.reasons)} (expected only "${benchCase.expectedReason}")`);
    }
  }
  return result;
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

function printSummaries(summaries) {
  const header = ['case', 'rps (median)', 'p50 ms', 'p99 ms', 'rps per round', 'server CPU us/call', 'calls'];
  const rows = summaries.map((s) => [s.name, String(s.rps), String(s.p50Ms), String(s.p99Ms), s.rpsPerRound.join(' / '), String(s.serverCpuUsPerCall ?? 'n/a'), String(s.calls)]);
  printTable(header, rows, [0, 4]);
}

async function main(run) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npx tsc -p tsconfig.json) first`);
  const ghz = await toolPath('ghz');
  const grpcurl = await toolPath('grpcurl');
  const dir = mkdtempSync(join(tmpdir(), 'meshwarden-bench-'));
  run.workDir = dir;
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
    { id: 'meshwarden-deny', name: 'meshwarden denied req', address: meshwardenAddress, dataFile: requests.deniedFile, server: meshwarden, expectedReason: 'no_allow_rule_matched' },
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

  printSummaries(summaries);
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

runBenchmark('check-bench', OVERALL_LIMIT_MS, main);
