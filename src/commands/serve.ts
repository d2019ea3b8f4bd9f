// `meshwarden serve`: build the runtime, start the listeners, wire reload (SIGHUP) and shutdown (SIGTERM/SIGINT).
import { createAnswerer } from '../check/answer.js';
import type { PolicyStore } from '../check/policy.js';
import { createInputRedactor } from '../check/redact-input.js';
import { readServeConfig, type ServeConfig } from '../config.js';
import { describeError } from '../errors.js';
import { formatAddress } from '../listeners/address.js';
import { startAdminServer, type AdminServer } from '../listeners/admin.js';
import { startServer, type RunningServer } from '../listeners/grpc.js';
import { startHttpService, type HttpService } from '../listeners/http.js';
import { createLogger, flushLogger, type Logger } from '../logger.js';
import { createDecisionMetrics } from '../metrics.js';
import { createRuntime } from '../runtime.js';
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
  logger: Logger;
  /**
   * Reloads the policy (from `rulesText`, a rules file's content as already read, when given); a failure is
   * logged and the policy in force keeps serving.
   */
  reload(rulesText?: string): Promise<boolean>;
  /** Reads the JWT key files again (key rotation); a file that fails is logged and keeps its last good keys. */
  reloadKeyFiles(): boolean;
  /**
   * Graceful stop, which always ends: NOT_SERVING at once (health, /readyz) while checks are still answered
   * for the drain window; then no new connections or calls, in-flight calls finish within the grace period;
   * then every connection still open is closed.
   */
  stop(): Promise<void>;
}

/** Starts serving; throws ConfigError for bad flags, environment or policy file. */
export async function serve(argv: readonly string[], env: NodeJS.ProcessEnv, logger?: Logger): Promise<Serving> {
  const { config, problems } = readServeConfig(argv, env);
  // A rules file (--rules, else the embedded default) is served by the rules library's bundle, with the
  // file's compiled document as its data; --bundle serves a Rego bundle as it is.
  const runtime = await createRuntime(config, problems);
  const log = logger ?? createLogger(config.logLevel);
  const { policies, plan } = runtime;
  const rulesFile = plan.rulesFile;
  const policy = policies.current!;
  const metrics = createDecisionMetrics({ processMetrics: true });
  metrics.policyLoaded('success', policy.revision, policy.ruleNames);
  const tracing: CheckTracer | undefined =
    config.otlpTracesEndpoint === undefined ? undefined : createCheckTracer({ endpoint: config.otlpTracesEndpoint, serviceName: 'meshwarden', serviceVersion: PACKAGE_VERSION });
  const answer = createAnswerer({ context: runtime.checkContext, logger: log, metrics, redactInput: createInputRedactor(config.logRedact), tracing });
  const tls = startTls(config, log, metrics);
  const limits = { maxConnections: config.maxConnections, callTimeoutMs: config.callTimeoutMs, idleTimeoutMs: config.idleTimeoutMs };
  const server = await startServer({
    address: config.grpcAddr,
    maxRequestBytes: config.maxRequestBytes,
    maxStreamsPerConnection: config.maxStreamsPerConnection,
    ...limits,
    logger: log,
    answer,
    tls,
  });
  let draining = false;
  let admin: AdminServer | undefined;
  let http: HttpService | undefined;
  try {
    admin =
      config.adminAddr &&
      (await startAdminServer({ address: config.adminAddr, metrics, logger: log, tls, ready: () => !draining && policies.current !== undefined }));
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
      }));
  } catch (error) {
    await server.shutdown(0);
    await admin?.close();
    tls?.close();
    throw error;
  }
  server.setServing(true);
  let watcher: FileWatch | undefined;
  log.info(
    {
      address: formatAddress({ ...config.grpcAddr, port: server.port }),
      policy: policy.source,
      ...(rulesFile === undefined ? {} : { rules: rulesFile }),
      decision: policy.decision,
      revision: policy.revision,
      shadow: config.shadow,
    },
    'serving',
  );
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
    logger: log,
    reload(rulesText?: string): Promise<boolean> {
      // One reload at a time, in the order asked: a slow compile of older content never lands after a newer one.
      const result = reloads.then(() => reloadNow(rulesText));
      reloads = result;
      return result;
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
      await Promise.all([server.shutdown(config.shutdownGraceMs), http?.close(config.shutdownGraceMs)]);
      await admin?.close();
      // The last batch of spans, bounded by the exporter's timeout; a collector that is gone cannot hold the exit.
      await tracing?.shutdown().catch((error: unknown) => log.warn({ error: describeError(error) }, 'sending the last trace spans failed'));
      log.info('stopped');
      await flushLogger(log);
    },
  };
  if (rulesFile !== undefined && plan.watch) {
    // A read that failed twice alike is reloaded from the file, so the failure is logged as any reload's is.
    watcher = watchSettledFile(rulesFile, config.rulesSettleMs, (content) => void serving.reload('text' in content ? content.text : undefined), log);
  }
  return serving;
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
