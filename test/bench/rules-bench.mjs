#!/usr/bin/env node
// Scaling benchmark for `serve --rules`: does a Check get slower as the rules file grows?
//
// The rules library indexes a file's compiled rules by destination (policies/rules/README.md), so a Check
// should look only at the rules of its own destination and cost the same whether the file holds 10 rules
// or 10,000. This benchmark generates rules files of 10, 1,000 and 10,000 rules spread over 1,000
// synthetic destinations (cluster.local/ns/svc-N/sa/svc-N), always with the regulated-data rule from
// examples/rules/ added, and serves each with its own meshwarden next to the no-op grpc-js Check server
// (noop-server.mjs, the floor). The measured request, examples/requests/analytics-get-data.json, goes to
// the data destination, whose only rule is analytics-reads-data in every file: what changes between the
// files is only how many rules there are for *other* destinations. ghz drives all four servers at the same
// fixed concurrency, alternating noop / 10 / 1,000 / 10,000 within every round.
//
// Reported, never asserted (speed on a shared machine is not a pass/fail test): the cost of 10,000 rules
// against 10 (throughput rps10/rps10000 and server CPU per call), each size against the no-op floor, and
// meshwarden's peak RSS. Asserted: every generated file validates, each server really loaded its file
// (a probe request is allowed by the file's last generated rule), and every measured call succeeded and
// was allowed by analytics-reads-data according to the decision log.
//
// Usage: npm run bench:rules   (or: npx tsc -p tsconfig.json && node test/bench/rules-bench.mjs)
// Tuning (environment, as for check-bench.mjs): BENCH_ROUNDS (5), BENCH_SECONDS per run (5),
// BENCH_WARMUP_SECONDS (2), BENCH_CONCURRENCY (50), BENCH_KEEP=1 keeps server logs and raw ghz reports.
// BENCH_SIZES=10,10000 picks the rules file sizes (default 10, 1000 and 10000; the measured request's rule is
// always added, so a size counts it). BENCH_BASELINE=DIR also serves every size with the meshwarden built
// in DIR (DIR/dist/src/cli.js, e.g. a worktree of the base branch after `npm ci && npm run build`),
// alternating with this build in every round,
// and reports this build against it: the only fair comparison on a shared machine is side by side.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  measureRun, ALLOWED_REQUEST, CLI, HOST, ROOT, benchSettings, fetchDecisionMetrics, freePort, grpcurlCheck,
  hasAdminEndpoint, healthCheck, LogTail, median, peakRssMb, printTable, round2, runBenchmark,
  startMeshwarden, startNoop, statusCodeOf, tallyDecisions, toolPath, waitUntilReady
} from './harness.mjs';
import { DESTINATIONS, EXPECTED_RULE, writeRulesFile } from './rules-files.mjs';

const SETTINGS = benchSettings();
const SIZES = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : [10, 1_000, 10_000];
const BASELINE_CLI = process.env.BENCH_BASELINE ? join(resolve(process.env.BENCH_BASELINE), 'dist', 'src', 'cli.js') : undefined;
const BUILDS = BASELINE_CLI === undefined ? 1 : 2;
const TARGET_COST_RATIO = 1.3; // cost(10,000 rules) / cost(10 rules) at most this
const TARGET_FLOOR_RATIO = 0.55; // 10,000 rules: at least this share of the no-op floor's throughput
// Hard ceiling for the whole run: twice the planned load time plus three minutes for generating and
// validating the files, four start-ups, log checks and shutdown.
const OVERALL_LIMIT_MS = (180 * BUILDS + 2 * (BUILDS * SIZES.length + 1) * (SETTINGS.warmupSeconds + SETTINGS.rounds * SETTINGS.seconds)) * 1000;

function cli(args, timeoutMs = 120_000) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** `rules validate` must accept the file with exactly `size` rules. */
async function validateRulesFile(rules) {
  const { code, stdout, stderr } = await cli(['rules', 'validate', rules.file]);
  const output = `${stdout}${stderr}`.trim();
  if (code !== 0) throw new Error(`rules validate ${rules.file} exited ${code}:\n${output.slice(0, 4000)}`);
  if (!output.includes(`${rules.size} rules valid`)) throw new Error(`rules validate ${rules.file}: expected "${rules.size} rules valid", got:\n${output.slice(0, 4000)}`);
  const warnings = output.split('\n').filter((line) => line.includes('warning:'));
  return { summary: output.split('\n').find((line) => line.includes('rules valid')), warnings: warnings.length };
}

/** Offline, with the CLI: the probe request is allowed by the probe rule and the measured one by the regulated rule. */
async function explainDecisions(rules) {
  for (const [requestFile, rule] of [[rules.probe.file, rules.probe.rule], [ALLOWED_REQUEST, EXPECTED_RULE]]) {
    const { code, stdout, stderr } = await cli(['rules', 'explain', '--rules', rules.file, '--request', requestFile]);
    if (code !== 0) throw new Error(`rules explain --rules ${rules.file} --request ${requestFile} exited ${code}: ${stderr.slice(0, 2000)}`);
    const explained = JSON.parse(stdout);
    if (explained.allowed !== true || explained.response?.dynamicMetadata?.rule !== rule) {
      throw new Error(`rules explain ${rules.file}, ${requestFile}: allowed ${explained.allowed}, rule ${explained.response?.dynamicMetadata?.rule} (expected allowed by ${rule})`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The benchmark

/** One measured (or warm-up) run of one case, with all its checks. */
async function runCase(ghz, benchCase, { seconds, round, dir, servers }) {
  const result = await measureRun(ghz, {
    id: benchCase.id,
    name: benchCase.name,
    address: benchCase.address,
    server: benchCase.server,
    dataFile: ALLOWED_REQUEST,
    seconds,
    concurrency: SETTINGS.concurrency,
    round,
    dir,
    keep: SETTINGS.keep,
    servers,
  });
  if (benchCase.log !== undefined) {
    const tally = await tallyDecisions(benchCase.log, result.count);
    result.decisions = { reasons: tally.reasons, allowed: tally.allowed, rules: tally.rules };
    result.serverProblems = tally.problems.slice(0, 20);
    const allAllowed = tally.allowed.true === tally.decisions && Object.keys(tally.reasons).every((reason) => reason === 'allowed');
    const allByRule = tally.rules[EXPECTED_RULE] === tally.decisions;
    if (tally.decisions < result.count || !allAllowed || !allByRule) {
      throw new Error(`${benchCase.name} (${round}): ghz completed ${result.count} calls but meshwarden logged ${tally.decisions} decisions: reasons ${JSON.stringify(tally.reasons)}, allowed ${JSON.stringify(tally.allowed)}, rules ${JSON.stringify(tally.rules)} (expected every one allowed by "${EXPECTED_RULE}")`);
    }
  }
  return result;
}

/** This build against the baseline at one size: above 1 is faster for throughput, below 1 is cheaper for CPU and p99. */
function overBaseline(mine, baseline) {
  return {
    throughput: round2(mine.rps / baseline.rps),
    cpuPerCall: round2(mine.serverCpuUsPerCall / baseline.serverCpuUsPerCall),
    p99: round2(mine.p99Ms / baseline.p99Ms),
  };
}

function summarizeCases(cases, runs) {
  return cases.map((benchCase) => {
    const mine = runs.filter((run) => run.case === benchCase.id);
    return {
      case: benchCase.id,
      name: benchCase.name,
      rules: benchCase.rules?.size,
      baseline: benchCase.baseline === true,
      rounds: mine.length,
      rps: Math.round(median(mine.map((run) => run.rps))),
      p50Ms: median(mine.map((run) => run.p50Ms)),
      p99Ms: median(mine.map((run) => run.p99Ms)),
      rpsPerRound: mine.map((run) => run.rps),
      serverCpuUsPerCall: median(mine.map((run) => run.serverCpuUsPerCall)),
      calls: mine.reduce((sum, run) => sum + run.count, 0),
      peakRssMb: benchCase.log === undefined ? undefined : peakRssMb(benchCase.server),
      startupPeakRssMb: benchCase.startupPeakRssMb,
    };
  });
}

/** `baseline`: serve with the BENCH_BASELINE build instead of this one. */
async function startRulesServer(rules, dir, adminAvailable, baseline = false) {
  const [port, adminPort] = [await freePort(), adminAvailable ? await freePort() : undefined];
  const prefix = baseline ? 'baseline' : 'meshwarden';
  const logPath = join(dir, `${prefix}-${rules.size}.log`);
  writeFileSync(logPath, '');
  const started = Date.now();
  const server = startMeshwarden(port, adminPort, logPath, {
    label: `${prefix} (${rules.size} rules)`,
    extraArgs: ['--rules', rules.file],
    ...(baseline ? { cli: BASELINE_CLI } : {}),
  });
  return { server, address: `${HOST}:${port}`, adminPort, logPath, log: new LogTail(logPath), started, baseline };
}

async function main(run) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npx tsc -p tsconfig.json) first`);
  if (BASELINE_CLI !== undefined && !existsSync(BASELINE_CLI)) throw new Error(`BENCH_BASELINE: ${BASELINE_CLI} is missing: build the baseline first`);
  const ghz = await toolPath('ghz');
  const grpcurl = await toolPath('grpcurl');
  const dir = mkdtempSync(join(tmpdir(), 'meshwarden-rules-bench-'));
  run.workDir = dir;

  // Generate, validate and explain every rules file before any server starts.
  const rulesFiles = [];
  for (const size of SIZES) {
    const rules = writeRulesFile(dir, size);
    const validation = await validateRulesFile(rules);
    await explainDecisions(rules);
    rules.validation = validation;
    console.log(`${validation.summary} (${rules.counts.allow} ALLOW + ${rules.counts.deny} DENY synthetic over ${rules.counts.destinations} destinations, ${rules.counts.when} with when, + ${EXPECTED_RULE}; ${validation.warnings} warnings)`);
    rulesFiles.push(rules);
  }

  const adminAvailable = hasAdminEndpoint();
  const noopPort = await freePort();
  const noop = startNoop(noopPort);
  const noopAddress = `${HOST}:${noopPort}`;
  const meshwardens = [];
  for (const rules of rulesFiles) {
    meshwardens.push({ rules, ...(await startRulesServer(rules, dir, adminAvailable)) });
    if (BASELINE_CLI !== undefined) meshwardens.push({ rules, ...(await startRulesServer(rules, dir, adminAvailable, true)) });
  }
  const servers = [noop, ...meshwardens.map((m) => m.server)];

  // Ready = SERVING; then one probe Check proves the server decides with its whole file (the probe is
  // allowed only by the file's last generated ALLOW rule), and one measured request is allowed by the rule.
  await waitUntilReady(noop, async () => statusCodeOf(await grpcurlCheck(grpcurl, noopAddress, ALLOWED_REQUEST)) === 0);
  for (const m of meshwardens) {
    await waitUntilReady(m.server, async () => (await healthCheck(m.address)) === 'SERVING', 120_000);
    m.readyMs = Date.now() - m.started;
    for (const [dataFile, rule] of [[m.rules.probe.file, m.rules.probe.rule], [ALLOWED_REQUEST, EXPECTED_RULE]]) {
      const code = statusCodeOf(await grpcurlCheck(grpcurl, m.address, dataFile));
      const tally = await tallyDecisions(m.log, 1);
      if (code !== 0 || tally.rules[rule] !== 1) {
        throw new Error(`sanity check, ${m.server.label}, ${dataFile}: CheckResponse status ${code}, logged rules ${JSON.stringify(tally.rules)} (expected OK by ${rule})`);
      }
      m.startupProblems = [...(m.startupProblems ?? []), ...tally.problems.filter((line) => !line.includes('"level":"info"'))];
    }
    m.startupPeakRssMb = peakRssMb(m.server);
    console.log(`${m.server.label}: serving after ${m.readyMs} ms, peak RSS so far ${m.startupPeakRssMb} MB`);
  }

  const cases = [
    { id: 'noop', name: 'noop grpc-js', address: noopAddress, server: noop },
    ...meshwardens.map((m) => ({
      id: `${m.baseline ? 'baseline' : 'rules'}-${m.rules.size}`,
      name: `${m.baseline ? 'baseline' : 'meshwarden'} ${m.rules.size.toLocaleString('en-US')} rules`,
      baseline: m.baseline,
      address: m.address,
      server: m.server,
      log: m.log,
      rules: m.rules,
      startupPeakRssMb: m.startupPeakRssMb,
    })),
  ];
  const context = { dir, servers };

  console.log(`warm-up: ${SETTINGS.warmupSeconds}s per case at -c ${SETTINGS.concurrency}`);
  const warmups = [];
  for (const benchCase of cases) warmups.push(await runCase(ghz, benchCase, { ...context, seconds: SETTINGS.warmupSeconds, round: 'warmup' }));

  // Cases alternate within every round, so background noise on this machine hits all of them alike.
  const runs = [];
  for (let round = 1; round <= SETTINGS.rounds; round += 1) {
    for (const benchCase of cases) {
      const result = await runCase(ghz, benchCase, { ...context, seconds: SETTINGS.seconds, round });
      console.log(`round ${round}  ${benchCase.name.padEnd(26)} ${String(result.rps).padStart(6)} rps  p50 ${result.p50Ms} ms  p99 ${result.p99Ms} ms  ${result.serverCpuUsPerCall} us/call`);
      runs.push(result);
    }
  }

  const summaries = summarizeCases(cases, runs);
  const byId = Object.fromEntries(summaries.map((s) => [s.case, s]));
  const floor = byId.noop;
  const small = byId[`rules-${SIZES[0]}`];
  const large = byId[`rules-${SIZES[SIZES.length - 1]}`];
  const costRatioThroughput = small.rps / large.rps;
  const costRatioCpu = large.serverCpuUsPerCall / small.serverCpuUsPerCall;
  const largeOverFloor = large.rps / floor.rps;
  const serverProblems = [
    ...meshwardens.flatMap((m) => m.startupProblems ?? []),
    ...runs.flatMap((r) => r.serverProblems ?? []),
  ];
  const decisionMetrics = {};
  for (const m of meshwardens) if (m.adminPort !== undefined) decisionMetrics[`${m.baseline ? 'baseline-' : ''}${m.rules.size}`] = await fetchDecisionMetrics(m.adminPort);

  const header = ['case', 'rps (median)', 'x noop', 'p50 ms', 'p99 ms', 'rps per round', 'server CPU us/call', 'peak RSS MB', 'calls'];
  const rows = summaries.map((s) => [
    s.name,
    String(s.rps),
    (s.rps / floor.rps).toFixed(2),
    String(s.p50Ms),
    String(s.p99Ms),
    s.rpsPerRound.join(' / '),
    String(s.serverCpuUsPerCall ?? 'n/a'),
    s.peakRssMb === undefined ? '-' : String(s.peakRssMb),
    String(s.calls),
  ]);
  printTable(header, rows, [0, 5]);
  if (serverProblems.length > 0) {
    console.log(`meshwarden logged ${serverProblems.length} non-decision or non-info line(s), e.g.:`);
    for (const line of serverProblems.slice(0, 5)) console.log(`  ${line}`);
  }

  const results = {
    date: new Date().toISOString(),
    settings: { ...SETTINGS, connections: 1, ghz, sizes: SIZES, destinations: DESTINATIONS, baseline: BASELINE_CLI },
    environment: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavg: loadavg() },
    rulesFiles: rulesFiles.map((r) => ({ file: r.file, size: r.size, counts: r.counts, probeRule: r.probe.rule, validation: r.validation })),
    startup: meshwardens.map((m) => ({ rules: m.rules.size, baseline: m.baseline, readyMs: m.readyMs, peakRssMb: m.startupPeakRssMb })),
    summary: summaries,
    ratios: {
      overNoop: Object.fromEntries(summaries.filter((s) => s.rules !== undefined).map((s) => [`${s.baseline ? 'baseline-' : ''}${s.rules}`, round2(s.rps / floor.rps)])),
      overBaseline: Object.fromEntries(SIZES.filter((size) => byId[`baseline-${size}`] !== undefined).map((size) => [size, overBaseline(byId[`rules-${size}`], byId[`baseline-${size}`])])),
      cost10000Over10: { throughput: round2(costRatioThroughput), cpuPerCall: round2(costRatioCpu), target: TARGET_COST_RATIO },
      rules10000OverNoop: { value: round2(largeOverFloor), target: TARGET_FLOOR_RATIO },
    },
    serverProblems,
    meshwardenDecisionMetrics: decisionMetrics,
    warmups,
    runs,
  };
  const resultsPath = join(dir, 'bench-results.json');
  writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');
  if (!SETTINGS.keep) for (const m of meshwardens) rmSync(m.logPath, { force: true }); // decision lines by the hundred thousand
  const met = (ok) => (ok ? 'met' : 'NOT met');
  const sizeName = (n) => n.toLocaleString('en-US');
  console.log(`results: ${resultsPath}`);
  for (const s of summaries.filter((entry) => entry.rules !== undefined)) {
    console.log(`ratio: ${s.baseline ? 'baseline ' : ''}${sizeName(s.rules)} rules / noop throughput = ${(s.rps / floor.rps).toFixed(2)}`);
  }
  for (const [size, ratio] of Object.entries(results.ratios.overBaseline)) {
    console.log(`this build / baseline at ${sizeName(Number(size))} rules: throughput ${ratio.throughput}, CPU per call ${ratio.cpuPerCall}, p99 ${ratio.p99}`);
  }
  console.log(`cost ${sizeName(large.rules)} rules / ${sizeName(small.rules)} rules: throughput rps${small.rules}/rps${large.rules} = ${costRatioThroughput.toFixed(2)}, CPU per call ${large.serverCpuUsPerCall}/${small.serverCpuUsPerCall} us = ${costRatioCpu.toFixed(2)}`);
  console.log(`target: ${sizeName(large.rules)} rules within ${TARGET_COST_RATIO.toFixed(2)}x the cost of ${sizeName(small.rules)} rules: throughput ${costRatioThroughput.toFixed(2)} (${met(costRatioThroughput <= TARGET_COST_RATIO)}), CPU per call ${costRatioCpu.toFixed(2)} (${met(costRatioCpu <= TARGET_COST_RATIO)})`);
  console.log(`target: ${sizeName(large.rules)} rules >= ${TARGET_FLOOR_RATIO.toFixed(2)} of the no-op floor: ${largeOverFloor.toFixed(2)} (${met(largeOverFloor >= TARGET_FLOOR_RATIO)})`);
  console.log('(targets are reported, not asserted; compare ratios within one run only)');
}

runBenchmark('rules-bench', OVERALL_LIMIT_MS, main);
