// `meshwarden serve`: build the runtime, start the listeners, wire reload (SIGHUP) and shutdown (SIGTERM/SIGINT).
import { randomUUID } from 'node:crypto';
import { createAnswerer, createCheckRefusal } from '../check/answer.js';
import type { DecisionEventSink } from '../check/decision-log.js';
import { instantiatePolicy, type PolicyStore } from '../check/policy.js';
import { createInputRedactor } from '../check/redact-input.js';
import { readServeConfig, type ServeConfig } from '../config.js';
import { describeError } from '../errors.js';
import { formatAddress } from '../listeners/address.js';
import { startAdminServer, type AdminServer } from '../listeners/admin.js';
import type { ConnectionSource } from '../listeners/connection-source.js';
import { BufferBudget } from '../listeners/buffer-budget.js';
import { startServer, type RunningServer } from '../listeners/grpc.js';
import { startHttpService, type HttpService } from '../listeners/http.js';
import { createLogger, flushLogger, type Logger } from '../logger.js';
import { createBundleDownloader, type BundleDownloader, type BundleState } from '../management/bundle-downloader.js';
import { createBundleSet, type ActivatedBundle } from '../management/bundle-set.js';
import { createDecisionLogUploader, type DecisionLogUploader } from '../management/decision-log-upload.js';
import { createStatusReporter, type StatusReporter } from '../management/status.js';
import { createDecisionMetrics, type DecisionMetrics } from '../metrics.js';
import { createRuntime, type RemoteBundles, type Runtime } from '../runtime.js';
import { watchSettledFile, type FileWatch } from './watch-file.js';
import { startTls } from './tls.js';
import { createCheckTracer, type CheckTracer } from '../tracing/check-tracer.js';
import { PACKAGE_VERSION } from '../package-paths.js';

export interface Serving {
  config: ServeConfig;
  server: RunningServer;
  /** The admin endpoint, unless turned off. */
  admin: AdminServer | undefined;
  /** The HTTP ext_authz service, when --http-addr is set. */
  http: HttpService | undefined;
  policies: PolicyStore;
  /** The downloaders of the OPA config file's bundles (none without --config-file bundles). */
  bundles: readonly BundleDownloader[];
  /** The decision log upload, when the OPA config file has decision_logs. */
  decisionLogs: DecisionLogUploader | undefined;
  logger: Logger;
  /** This process's decision metrics (a worker shares them with its primary's /metrics). */
  metrics: DecisionMetrics;
  /**
   * Reloads the policy (from `rulesText`, a rules file's content as already read, when given); a failure is
   * logged and the policy in force keeps serving.
   */
  reload(rulesText?: string): Promise<boolean>;
  /** Reads the JWT key files again (key rotation); a file that fails is logged and keeps its last good keys. */
  reloadKeyFiles(): boolean;
  /**
   * Swaps in the policy a primary checked and activated (a worker whose primary runs the bundle downloaders);
   * resolves to its revision, or rejects and keeps the policy in force.
   */
  adoptPolicy(files: AdoptedPolicyFiles): Promise<string>;
  /**
   * Graceful stop, which always ends: NOT_SERVING at once (health, /readyz) while checks are still answered
   * for the drain window; then no new connections or calls, in-flight calls finish within the grace period;
   * then every connection still open is closed.
   */
  stop(): Promise<void>;
}

/** A policy as a primary activated it: what to instantiate it from. */
export interface AdoptedPolicyFiles {
  source: string;
  decision: string;
  wasm: Buffer;
  dataJson: string;
  revision: string;
}

/** How a caller that runs serve() inside a larger whole (src/workers/) adjusts it. */
export interface ServeOptions {
  /** false: the caller drives reloads (the workers' primary watches the rules file for all of them). */
  watchRules?: boolean;
  /** The listeners take the connections a primary hands over instead of binding their addresses (a worker). */
  connections?: ConnectionSource;
  /**
   * The OPA config file's management plane runs elsewhere (a worker's primary): no downloader, uploader or
   * status reporter here; policies arrive through adoptPolicy() and decision events go to `events`.
   */
  managedElsewhere?: { events: DecisionEventSink | undefined };
}

/** Starts serving; throws ConfigError for bad flags, environment or policy file. */
export async function serve(argv: readonly string[], env: NodeJS.ProcessEnv, logger?: Logger, options: ServeOptions = {}): Promise<Serving> {
  const { config, problems } = readServeConfig(argv, env);
  // A rules file (--rules, else the embedded default) is served by the rules library's bundle, with the
  // file's compiled document as its data; --bundle serves a Rego bundle as it is.
  const runtime = await createRuntime(config, problems);
  const log = logger ?? createLogger(config.logLevel);
  const { policies, plan } = runtime;
  const rulesFile = plan.rulesFile;
  const policy = policies.current;
  const metrics = createDecisionMetrics({ processMetrics: true });
  if (policy !== undefined) metrics.policyLoaded('success', policy.revision, policy.ruleNames);
  const tracing: CheckTracer | undefined =
    config.otlpTracesEndpoint === undefined ? undefined : createCheckTracer({ endpoint: config.otlpTracesEndpoint, serviceName: 'meshwarden', serviceVersion: PACKAGE_VERSION });
  const labels = labelsOf(config.opa?.labels ?? {});
  let bundles: BundleDownloader[] = [];
  let status: StatusReporter | undefined;
  const managed = options.managedElsewhere;
  const uploader = managed === undefined ? decisionLogUploaderOf(runtime, labels, () => bundles, metrics, log, () => status?.changed()) : undefined;
  status = managed === undefined ? statusReporterOf(runtime, labels, () => bundles.map((bundle) => bundle.state), uploader, log) : undefined;
  const entrance = { context: runtime.checkContext, logger: log, metrics, events: managed?.events ?? uploader, redactInput: createInputRedactor(config.logRedact), tracing };
  const answer = createAnswerer(entrance);
  const refuseCheck = createCheckRefusal(entrance);
  const tls = startTls(config, log, metrics);
  // One buffer budget for both listeners: it bounds what unfinished requests hold in this process together.
  const budget = new BufferBudget(config.maxBufferedBytes);
  const limits = { maxConnections: config.maxConnections, callTimeoutMs: config.callTimeoutMs, idleTimeoutMs: config.idleTimeoutMs, budget };
  const server = await startServer({
    address: config.grpcAddr,
    maxRequestBytes: config.maxRequestBytes,
    maxStreamsPerConnection: config.maxStreamsPerConnection,
    ...limits,
    logger: log,
    answer,
    refuseCheck,
    reflection: config.reflection,
    tls,
    connections: options.connections,
  });
  let draining = false;
  // Ready once every configured bundle has been activated (OPA's /health?bundles), and a local policy is loaded.
  bundles = plan.remote === undefined || managed !== undefined ? [] : createDownloaders(plan.remote, policies, metrics, log, () => {
    server.setServing(!draining && bundles.every((bundle) => bundle.loaded));
    status?.changed();
  });
  const ready = (): boolean => !draining && policies.current !== undefined && bundles.every((bundle) => bundle.loaded);
  let admin: AdminServer | undefined;
  let http: HttpService | undefined;
  try {
    admin =
      config.adminAddr &&
      (await startAdminServer({ address: config.adminAddr, metrics, logger: log, tls, ready }));
    http =
      config.httpAddr &&
      (await startHttpService({
        address: config.httpAddr,
        pathPrefix: config.httpPathPrefix,
        maxRequestBytes: config.maxRequestBytes,
        maxPathBytes: config.maxPathBytes,
        maxHeaderBytes: config.maxHeaderBytes,
        maxHeaderCount: config.maxHeaderCount,
        xfcc: config.xfcc,
        ...limits,
        answer,
        logger: log,
        tls,
        connections: options.connections,
      }));
  } catch (error) {
    await server.shutdown(0);
    await admin?.close();
    tls?.close();
    throw error;
  }
  server.setServing(ready());
  let watcher: FileWatch | undefined;
  log.info(
    {
      address: formatAddress({ ...config.grpcAddr, port: server.port }),
      ...(policy === undefined ? {} : { policy: policy.source, decision: policy.decision, revision: policy.revision }),
      ...(rulesFile === undefined ? {} : { rules: rulesFile }),
      ...(plan.remote === undefined ? {} : { bundles: plan.remote.bundles.map((bundle) => plan.remote!.clients.get(bundle.service.name)!.urlOf(bundle.resource)), decision: plan.remote.decision }),
      shadow: config.shadow,
    },
    plan.remote === undefined ? 'serving' : 'serving; not ready until every bundle is activated',
  );
  for (const bundle of bundles) bundle.start();
  uploader?.start();
  status?.changed();
  let reloads: Promise<unknown> = Promise.resolve();
  const reloadNow = async (rulesText: string | undefined): Promise<boolean> => {
    try {
      const loadText = plan.loadText;
      const next = await policies.load(rulesText === undefined || loadText === undefined ? plan.load : () => loadText(rulesText));
      metrics.policyLoaded('success', next.revision, next.ruleNames);
      log.info({ policy: next.source, ...(rulesFile === undefined ? {} : { rules: rulesFile }), decision: next.decision, revision: next.revision }, 'policy reloaded');
      return true;
    } catch (error) {
      metrics.policyLoaded('failure');
      const current = policies.current;
      log.error({ error: describeError(error), revision: current?.revision }, 'policy reload failed; the last good policy keeps serving');
      return false;
    }
  };
  const serving: Serving = {
    config,
    server,
    admin,
    http,
    policies,
    bundles,
    decisionLogs: uploader,
    logger: log,
    metrics,
    reload(rulesText?: string): Promise<boolean> {
      // Bundles another process downloads are its to reload.
      if (managed !== undefined && plan.remote !== undefined) return Promise.resolve(true);
      // Downloaded bundles are reloaded by asking their servers now.
      if (bundles.length > 0) {
        for (const bundle of bundles) bundle.pollNow();
        return Promise.resolve(true);
      }
      // One reload at a time, in the order asked: a slow compile of older content never lands after a newer one.
      const result = reloads.then(() => reloadNow(rulesText));
      reloads = result;
      return result;
    },
    async adoptPolicy(files: AdoptedPolicyFiles): Promise<string> {
      const next = await policies.load(() => instantiatePolicy({ path: files.source, decision: files.decision }, { wasm: files.wasm, dataJson: files.dataJson, revision: files.revision }));
      metrics.policyLoaded('success', next.revision);
      server.setServing(ready());
      return next.revision;
    },
    reloadKeyFiles(): boolean {
      tls?.reload();
      const tokens = runtime.identity.tokens;
      if (tokens === undefined) return true;
      const problems = tokens.reloadKeyFiles();
      for (const problem of problems) log.error({ error: problem }, 'key file reload failed; its last good keys stay in use');
      if (problems.length === 0) log.info('key files reloaded');
      return problems.length === 0;
    },
    async stop(): Promise<void> {
      watcher?.close();
      tls?.close();
      // Kubernetes takes a while to remove the endpoint; until Envoy stops sending, its checks are answered.
      draining = true;
      server.setServing(false);
      log.info({ drain_ms: config.drainMs }, 'draining: NOT_SERVING, still answering checks');
      await new Promise((resolve) => setTimeout(resolve, config.drainMs));
      log.info({ grace_ms: config.shutdownGraceMs }, 'shutting down');
      // Bundles stay as they are from here on; the calls still in flight decide with the policy in force.
      for (const bundle of bundles) bundle.stop();
      status?.stop();
      await Promise.all([server.shutdown(config.shutdownGraceMs), http?.close(config.shutdownGraceMs)]);
      // After the last decision: one last upload of what is buffered, bounded so shutdown cannot hang on it.
      await uploader?.stop(DECISION_LOG_SHUTDOWN_MS);
      for (const client of runtime.serviceClients.values()) client.close();
      await admin?.close();
      // The last batch of spans, bounded by the exporter's timeout; a collector that is gone cannot hold the exit.
      await tracing?.shutdown().catch((error: unknown) => log.warn({ error: describeError(error) }, 'sending the last trace spans failed'));
      log.info('stopped');
      await flushLogger(log);
    },
  };
  if (rulesFile !== undefined && plan.watch && options.watchRules !== false) {
    // A read that failed twice alike is reloaded from the file, so the failure is logged as any reload's is.
    watcher = watchSettledFile(rulesFile, config.rulesSettleMs, (content) => void serving.reload('text' in content ? content.text : undefined), log);
  }
  return serving;
}

const DECISION_LOG_SHUTDOWN_MS = 5000;

/** OPA's labels: `id` (this process) and `version` beside the configured ones, which cannot replace them. */
export function labelsOf(configured: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  return Object.freeze({ ...configured, id: randomUUID(), version: `meshwarden-${PACKAGE_VERSION}` });
}

export function decisionLogUploaderOf(
  runtime: Runtime,
  labels: Readonly<Record<string, string>>,
  bundles: () => readonly BundleDownloader[],
  metrics: DecisionMetrics,
  log: Logger,
  onStateChange: () => void,
): DecisionLogUploader | undefined {
  const setting = runtime.config.opa?.decisionLogs;
  if (setting === undefined) return undefined;
  metrics.decisionLogsConfigured();
  return createDecisionLogUploader({
    setting,
    client: runtime.serviceClients.get(setting.service.name)!,
    labels,
    decisionPath: runtime.config.decision ?? runtime.policies.current?.decision ?? '',
    bundles: () => Object.fromEntries(bundles().map((bundle) => [bundle.name, { revision: bundle.state.activeRevision }])),
    policy: () => runtime.policies.current,
    logger: log,
    metrics,
    onStateChange,
  });
}

export function statusReporterOf(runtime: Runtime, labels: Readonly<Record<string, string>>, bundles: () => readonly BundleState[], uploader: DecisionLogUploader | undefined, log: Logger): StatusReporter | undefined {
  const setting = runtime.config.opa?.status;
  if (setting === undefined) return undefined;
  return createStatusReporter({
    setting,
    client: runtime.serviceClients.get(setting.service.name)!,
    labels,
    bundles,
    ...(uploader === undefined ? {} : { decisionLogs: () => uploader.state }),
    logger: log,
  });
}

/**
 * One downloader per bundle: each checked bundle is swapped in, counted, and readiness told; `onPolicy` hears
 * of every policy swapped in, with the bundle that completed it (a primary hands it to its workers).
 */
export function createDownloaders(
  remote: RemoteBundles,
  policies: PolicyStore,
  metrics: DecisionMetrics,
  log: Logger,
  readinessChanged: () => void,
  onPolicy?: (bundle: string, activated: ActivatedBundle) => void,
): BundleDownloader[] {
  const bundleSet = createBundleSet(
    remote.bundles.map((bundle) => bundle.name),
    { decision: remote.decision, optionalEntrypoints: remote.optionalEntrypoints },
  );
  return remote.bundles.map((setting) => {
    metrics.bundleConfigured(setting.name);
    const downloader: BundleDownloader = createBundleDownloader({
      setting,
      client: remote.clients.get(setting.service.name)!,
      bundleSet,
      persistenceDirectory: remote.persistenceDirectory,
      logger: log,
      onActivated(bundle) {
        // The policy is checked completely already: the swap itself cannot fail.
        if (bundle.policy === undefined) return;
        policies.replace(bundle.policy);
        metrics.policyLoaded('success', bundle.policy.revision);
        onPolicy?.(setting.name, bundle);
      },
      onPoll(result) {
        metrics.bundlePolled(setting.name, result, downloader.loaded);
        if (result === 'rejected') metrics.policyLoaded('failure');
        readinessChanged();
      },
    });
    return downloader;
  });
}

/** Runs `serve` as a process: signals wired, exit codes set. */
export async function runServe(argv: readonly string[]): Promise<number> {
  const serving = await serve(argv, process.env);
  let stopping = false;
  process.on('SIGHUP', () => {
    serving.reloadKeyFiles();
    void serving.reload();
  });
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      const exit = (code: number): void => {
        // Every connection is closed by now; should anything else still hold the event loop (a key fetch
        // in flight), the process ends anyway: a stop that does not end the process is no stop.
        setTimeout(() => process.exit(code), 1_000).unref();
        resolve(code);
      };
      serving.stop().then(
        () => exit(0),
        () => exit(1),
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
