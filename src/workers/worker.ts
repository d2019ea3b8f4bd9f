// One worker process of `meshwarden serve --workers N`: today's serve() on the shared listening address,
// with the admin endpoint and the rules-file watch left to the primary, which drives every reload.
import { serve } from '../commands/serve.js';
import { readServeConfig } from '../config.js';
import { ConfigError, describeError } from '../errors.js';
import { createLogger } from '../logger.js';
import { shareMetricsWithPrimary } from '../metrics.js';
import { listenerPortsOf, receiveHandedConnections } from './handed-connections.js';
import { isMessage, LISTENER_PORTS_VARIABLE, type ReloadMessage, type RevisionMessage, type StartFailedMessage } from './messages.js';

/** The flags a worker adds to the command line it was given: the primary alone serves /healthz, /readyz, /metrics. */
export const WORKER_FLAGS = ['--admin-addr', 'off', '--workers', '1'] as const;

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
  process.on('message', (message: unknown) => {
    if (isMessage<ReloadMessage>(message, 'meshwarden:reload')) reload(message);
  });
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
  let serving: Awaited<ReturnType<typeof serve>>;
  try {
    serving = await serve(args, env, logger, { watchRules: false, connections });
  } catch (error) {
    // A start-up failure every worker would meet alike: the primary says it once and exits 2.
    if (!(error instanceof ConfigError) || !process.connected) throw error;
    const message: StartFailedMessage = { type: 'meshwarden:start-failed', problems: [...error.problems] };
    process.send?.(message);
    return 2;
  }
  shareMetricsWithPrimary(serving.metrics);
  const report = (reloaded: boolean): void => {
    const revision = serving.policies.current?.revision;
    if (revision === undefined || !process.connected) return;
    const message: RevisionMessage = { type: 'meshwarden:revision', revision, reloaded };
    process.send?.(message);
  };
  reload = (message: ReloadMessage): void => {
    serving.reloadKeyFiles();
    const rulesText = typeof message.rulesText === 'string' ? message.rulesText : undefined;
    serving.reload(rulesText).then(report, (error: unknown) => {
      logger.error({ error: describeError(error) }, 'reload failed');
      report(false);
    });
  };
  if (reloadAsked !== undefined) reload(reloadAsked);
  else report(true);
  return new Promise<number>((resolve) => {
    let stopping = false;
    stop = (): void => {
      if (stopping) return;
      stopping = true;
      serving.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    if (stopAsked || !process.connected) stop();
  });
}
