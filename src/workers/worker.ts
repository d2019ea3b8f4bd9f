// One worker process of `meshwarden serve --workers N`: today's serve() on the shared listening address,
// with the admin endpoint and the rules-file watch left to the primary, which drives every reload.
import { serve } from '../commands/serve.js';
import { readServeConfig } from '../config.js';
import { ConfigError, describeError } from '../errors.js';
import { createLogger } from '../logger.js';
import { shareMetricsWithPrimary } from '../metrics.js';
import { createDecisionForwarder, type DecisionForwarder } from './decision-forwarder.js';
import { listenerPortsOf, receiveHandedConnections } from './handed-connections.js';
import { hasManagementPlane } from './management-plane.js';
import { isMessage, LISTENER_PORTS_VARIABLE, type PolicyMessage, type PolicyWantedMessage, type ReloadMessage, type RevisionMessage, type StartFailedMessage } from './messages.js';

/** The flags a worker adds to the command line it was given: the primary alone serves /healthz, /readyz, /metrics. */
export const WORKER_FLAGS = ['--admin-addr', 'off', '--workers', '1'] as const;

/** At exit, the decisions not yet written to the primary get this long. */
const FORWARD_ON_EXIT_MS = 2000;

/** Serves until SIGTERM (or SIGINT, or the primary going away); returns the exit code. */
export async function runWorker(argv: readonly string[]): Promise<number> {
  const args = [...argv, ...WORKER_FLAGS];
  // The primary's word to this worker, not a setting: read, and kept out of the configuration.
  const { [LISTENER_PORTS_VARIABLE]: _ports, ...env } = process.env;
  const connections = receiveHandedConnections(listenerPortsOf(process.env));
  const { config } = readServeConfig(args, env);
  const logger = createLogger(config.logLevel, undefined, { sharedStdout: true });
  // Listening before serve() resolves: a reload asked for while the policy loads is done right after.
  let reloadAsked: ReloadMessage | undefined;
  let reload = (message: ReloadMessage): void => {
    reloadAsked = message;
  };
  // A policy the primary activated, held until this worker serves, then adopted one at a time in order.
  let policyAsked: PolicyMessage | undefined;
  let adopt = (message: PolicyMessage): void => {
    policyAsked = message;
  };
  process.on('message', (message: unknown) => {
    if (isMessage<ReloadMessage>(message, 'meshwarden:reload')) reload(message);
    else if (isMessage<PolicyMessage>(message, 'meshwarden:policy')) adopt(message);
  });
  // With the OPA config file's management plane, the primary runs it: this worker decides and forwards.
  const managed = hasManagementPlane({ config });
  const downloads = config.opa !== undefined && config.opa.bundles.length > 0;
  let serving: Awaited<ReturnType<typeof serve>> | undefined;
  const forwarder: DecisionForwarder | undefined = managed && config.opa?.decisionLogs !== undefined ? createDecisionForwarder(() => serving?.policies.current?.revision) : undefined;
  // A SIGTERM while the policy loads must not end the worker by the signal's default action (an unclean exit
  // for the primary): it is remembered, and the worker drains as soon as it serves. Without its primary
  // (disconnect) a worker would hold the port alone, unsupervised: it drains and goes too.
  let stopAsked = false;
  let stop = (): void => {
    stopAsked = true;
  };
  const onStopSignal = (): void => stop();
  process.on('SIGTERM', onStopSignal);
  process.on('SIGINT', onStopSignal);
  process.on('disconnect', onStopSignal);
  // The primary relays SIGHUP as a reload message; a SIGHUP to the whole process group must not end a worker.
  process.on('SIGHUP', () => undefined);
  try {
    serving = await serve(args, env, logger, { watchRules: false, connections, ...(managed ? { managedElsewhere: { events: forwarder } } : {}) });
  } catch (error) {
    // A start-up failure every worker would meet alike: the primary says it once and exits 2.
    if (!(error instanceof ConfigError) || !process.connected) throw error;
    const message: StartFailedMessage = { type: 'meshwarden:start-failed', problems: [...error.problems] };
    process.send?.(message);
    return 2;
  }
  const started = serving;
  shareMetricsWithPrimary(started.metrics);
  const report = (reloaded: boolean): void => {
    const revision = started.policies.current?.revision;
    if (revision === undefined || !process.connected) return;
    const message: RevisionMessage = { type: 'meshwarden:revision', revision, reloaded };
    process.send?.(message);
  };
  reload = (message: ReloadMessage): void => {
    started.reloadKeyFiles();
    const rulesText = typeof message.rulesText === 'string' ? message.rulesText : undefined;
    started.reload(rulesText).then(report, (error: unknown) => {
      logger.error({ error: describeError(error) }, 'reload failed');
      report(false);
    });
  };
  let adoptions: Promise<unknown> = Promise.resolve();
  adopt = (message: PolicyMessage): void => {
    adoptions = adoptions.then(() =>
      started.adoptPolicy({ source: message.source, decision: message.decision, wasm: Buffer.from(message.wasm, 'base64'), dataJson: message.dataJson, revision: message.revision }).then(
        (revision) => {
          logger.info({ revision }, 'policy adopted from the primary');
          report(true);
        },
        (error: unknown) => {
          logger.error({ error: describeError(error), revision: started.policies.current?.revision }, 'the policy from the primary could not be instantiated; the last one keeps serving');
          report(false);
        },
      ),
    );
  };
  if (policyAsked !== undefined) adopt(policyAsked);
  if (reloadAsked !== undefined) reload(reloadAsked);
  else if (downloads) {
    const wanted: PolicyWantedMessage = { type: 'meshwarden:policy-wanted' };
    if (process.connected) process.send?.(wanted);
  } else report(true);
  return new Promise<number>((resolve) => {
    let stopping = false;
    stop = (): void => {
      if (stopping) return;
      stopping = true;
      // After the last decision: what is batched for the primary's uploader goes before the worker exits.
      const forwarded = (code: number): void => void (forwarder?.close(FORWARD_ON_EXIT_MS) ?? Promise.resolve()).then(() => resolve(code));
      started.stop().then(
        () => forwarded(0),
        () => forwarded(1),
      );
    };
    if (stopAsked || !process.connected) stop();
  });
}
