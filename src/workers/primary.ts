// The primary of `meshwarden serve --workers N` (N > 1): forks N workers (node:cluster) that share the
// listening addresses, replaces a worker that dies, drives reloads so every worker serves the same revision,
// and serves the admin endpoint for all of them: /readyz only while every worker serves that one revision,
// /metrics summed over the workers. SIGTERM drains every worker.
//
// node:cluster for the processes (fork, IPC, prom-client's aggregation); the primary binds the listening
// addresses itself and hands each accepted connection to a worker in turn (connection-handoff.ts): one
// address, connections spread, and the port stays open for the primary's whole life, whichever workers
// die. (SO_REUSEPORT listeners of their own would close a dying worker's queue with it; worker_threads
// would share one process's fate.)
import cluster, { type Worker } from 'node:cluster';
import { watchSettledFile, type FileWatch } from '../commands/watch-file.js';
import type { ServeConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { startAdminServer, type AdminServer } from '../listeners/admin.js';
import { createLogger, flushLogger, type Logger } from '../logger.js';
import { createClusterMetrics, createDecisionMetrics, PRIMARY_OWNED_METRICS, type DecisionMetrics } from '../metrics.js';
import { createRuntime } from '../runtime.js';
import { startConnectionHandoff, type ConnectionHandoff } from './connection-handoff.js';
import { createManagementPlane, hasManagementPlane, type ManagementPlane } from './management-plane.js';
import {
  isMessage,
  LISTENER_PORTS_VARIABLE,
  type DecisionsMessage,
  type PolicyWantedMessage,
  type ReloadMessage,
  type RevisionMessage,
  type StartFailedMessage,
} from './messages.js';

/** A worker that dies before it ever served is restarted at most this many times in a row, then the primary gives up. */
const MAX_FAILED_STARTS = 5;
/** Pause before a worker is replaced, so a crash loop does not spin a core. */
const RESTART_DELAY_MS = 200;
/** Workers that disagree on the revision after a reload are asked to reload again, at most this many times. */
const MAX_CONVERGE_ATTEMPTS = 3;
/** After its drain window and grace period, a worker still stopping gets this long before SIGKILL. */
const KILL_AFTER_GRACE_MS = 5000;

interface WorkerState {
  worker: Worker;
  /** The revision it last reported; undefined until it serves. */
  revision: string | undefined;
  /** It started (its listeners are up), with a policy or, waiting for the primary's, without one yet. */
  started: boolean;
  /** The revision of the plane's policy last sent to it (sent once; again only after it failed to adopt it). */
  sent?: string;
  reloading: boolean;
}

/**
 * Validates the whole configuration (files and policy included) once, up front, so a bad one fails here
 * with every problem listed before any worker starts; then runs until SIGTERM. Returns the exit code.
 */
export async function runPrimary(config: ServeConfig, problems: readonly string[], count: number): Promise<number> {
  const runtime = await createRuntime(config, problems);
  const logger = createLogger(config.logLevel, undefined, { sharedStdout: true });
  // Bound before any worker starts: a port in use fails here, once, as in a single process.
  const handoff = await startConnectionHandoff({ grpc: config.grpcAddr, ...(config.httpAddr === undefined ? {} : { http: config.httpAddr }) }, logger);
  let primary: Primary | undefined;
  let management: { plane: ManagementPlane; metrics: DecisionMetrics } | undefined;
  if (hasManagementPlane(runtime)) {
    const metrics = createDecisionMetrics();
    management = { plane: createManagementPlane(runtime, metrics, logger, () => primary?.managementChanged()), metrics };
  }
  primary = new Primary(config, count, logger, handoff, management);
  return primary.run();
}

class Primary {
  readonly #workers = new Map<number, WorkerState>();
  #stopping = false;
  #failedStarts = 0;
  /** The problems a worker could not start with (the first worker to say so). */
  #startFailure: ConfigError | undefined;
  #convergeAttempts = 0;
  #admin: AdminServer | undefined;
  #watcher: FileWatch | undefined;
  #finish: (code: number) => void = () => undefined;
  /** Called after every report and exit while the start-up waits. */
  #changed: () => void = () => undefined;

  constructor(
    private readonly config: ServeConfig,
    private readonly count: number,
    private readonly logger: Logger,
    private readonly handoff: ConnectionHandoff,
    /** The OPA config file's bundles, decision logs and status, run here for every worker. */
    private readonly management?: { plane: ManagementPlane; metrics: DecisionMetrics },
  ) {}

  /** The plane has a new policy, or its readiness changed: the workers without that policy get it. */
  managementChanged(): void {
    const policy = this.management?.plane.policy;
    if (policy !== undefined && !this.#stopping) {
      for (const state of this.#workers.values()) {
        if (state.started && state.revision !== policy.revision && state.sent !== policy.revision) this.#sendPolicy(state);
      }
    }
    this.#changed();
  }

  async run(): Promise<number> {
    const finished = new Promise<number>((resolve) => (this.#finish = resolve));
    // From the start: a signal's default action would end the primary and leave its workers unsupervised.
    // A reload asked for while workers start reaches those already up; the others load the file as they start.
    process.on('SIGHUP', () => {
      this.management?.plane.pollNow();
      this.#reloadAll();
    });
    const stop = (): void => {
      if (this.#stopping) return;
      this.#stop().then(
        (code) => this.#finish(code),
        () => this.#finish(1),
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    cluster.on('exit', (worker, code, signal) => this.#exited(worker, code, signal));
    // The admin endpoint is bound before any worker starts: an address that cannot be had is one start-up
    // error at once, not workers started only to be drained again. It is not ready until the workers serve.
    try {
      if (this.config.adminAddr !== undefined) {
        const own = this.management === undefined ? undefined : { metrics: this.management.metrics, families: PRIMARY_OWNED_METRICS };
        this.#admin = await startAdminServer({ address: this.config.adminAddr, metrics: createClusterMetrics(own), logger: this.logger, ready: () => this.#ready() });
      }
    } catch (error) {
      await this.#stop();
      throw error;
    }
    this.management?.plane.start();
    for (let i = 0; i < this.count; i++) this.#fork();
    const started = await Promise.race([this.#untilServing(), finished.then(() => undefined)]);
    if (started === undefined) return finished; // stopped by a signal while starting
    if (!started) {
      this.logger.error({ workers: this.count }, 'a worker failed to start; stopping');
      await this.#stop();
      await flushLogger(this.logger);
      // What every worker met (a port in use…) is reported once, as by a single process (exit 2).
      if (this.#startFailure !== undefined) throw this.#startFailure;
      return 1;
    }
    // The primary reads the settled file once and hands every worker the same text: one content, one revision.
    if (this.config.rules !== undefined) {
      this.#watcher = watchSettledFile(this.config.rules, this.config.rulesSettleMs, (content) => this.#reloadAll('text' in content ? content.text : undefined), this.logger);
    }
    this.logger.info({ workers: this.count, revision: this.#revision() }, this.#ready() ? 'workers serving' : 'workers serving; not ready until every bundle is activated in every worker');
    return finished;
  }

  #fork(): void {
    const worker = cluster.fork({ [LISTENER_PORTS_VARIABLE]: JSON.stringify(this.handoff.ports) });
    this.handoff.follow(worker);
    this.#workers.set(worker.id, { worker, revision: undefined, started: false, reloading: false });
    worker.on('message', (message: unknown) => {
      if (isMessage<RevisionMessage>(message, 'meshwarden:revision')) this.#reported(worker, message);
      else if (isMessage<DecisionsMessage>(message, 'meshwarden:decisions')) this.management?.plane.received(message);
      else if (isMessage<PolicyWantedMessage>(message, 'meshwarden:policy-wanted')) this.#policyWanted(worker);
      else if (isMessage<StartFailedMessage>(message, 'meshwarden:start-failed')) this.#startFailure ??= new ConfigError(message.problems);
    });
  }

  /** A worker started without a policy (the plane's bundles decide): it gets the last one activated, if any. */
  #policyWanted(worker: Worker): void {
    const state = this.#workers.get(worker.id);
    if (state === undefined) return;
    if (!state.started) this.#failedStarts = 0;
    state.started = true;
    this.#sendPolicy(state);
    this.#changed();
  }

  #sendPolicy(state: WorkerState): void {
    const policy = this.management?.plane.policy;
    if (policy === undefined || !state.worker.isConnected()) return;
    state.sent = policy.revision;
    state.worker.send(policy);
  }

  #reported(worker: Worker, message: RevisionMessage): void {
    const state = this.#workers.get(worker.id);
    if (state === undefined) return;
    if (!state.started) this.#failedStarts = 0;
    state.started = true;
    state.revision = message.revision;
    // A policy it could not adopt is sent again at the next change.
    if (!message.reloaded) delete state.sent;
    this.management?.plane.workersServe([...this.#workers.values()].map((one) => one.revision));
    // From its first policy on, a worker decides: only then is it handed connections.
    this.handoff.setServing(worker, true);
    state.reloading = false;
    this.#changed();
    this.#converge();
  }

  /** Every worker has reported and none is reloading, yet they disagree (the file changed mid-reload): reload again. */
  #converge(): void {
    const states = [...this.#workers.values()];
    // Downloaded bundles reach the workers as the plane hands them out (managementChanged), not by reloads.
    if (this.config.opa !== undefined && this.config.opa.bundles.length > 0) return;
    if (this.#stopping || states.some((state) => state.revision === undefined || state.reloading)) return;
    if (new Set(states.map((state) => state.revision)).size <= 1) {
      this.#convergeAttempts = 0;
      return;
    }
    if (this.#convergeAttempts >= MAX_CONVERGE_ATTEMPTS) {
      this.logger.error({ revisions: states.map((state) => state.revision) }, 'workers serve different revisions after reloading; not ready until a reload agrees');
      return;
    }
    this.#convergeAttempts++;
    this.#reloadAll();
  }

  /** Every worker reloads: from `rulesText` when the primary read the rules file, else from its own files. */
  #reloadAll(rulesText?: string): void {
    if (this.#stopping) return;
    const message: ReloadMessage = rulesText === undefined ? { type: 'meshwarden:reload' } : { type: 'meshwarden:reload', rulesText };
    for (const state of this.#workers.values()) {
      if (!state.worker.isConnected()) continue;
      state.reloading = true;
      state.worker.send(message);
    }
  }

  #exited(worker: Worker, code: number | null, signal: string | null): void {
    const state = this.#workers.get(worker.id);
    this.#workers.delete(worker.id);
    if (this.#stopping) return;
    const neverServed = state?.started !== true;
    if (neverServed) this.#failedStarts++;
    this.#changed();
    if (this.#failedStarts > MAX_FAILED_STARTS) {
      this.logger.fatal({ code, signal, failed_starts: this.#failedStarts }, 'workers keep failing to start; stopping');
      this.#stop().then(
        () => this.#finish(1),
        () => this.#finish(1),
      );
      return;
    }
    this.logger.warn({ worker_pid: worker.process.pid, code, signal }, 'a worker exited; starting another');
    setTimeout(() => {
      if (!this.#stopping) this.#fork();
    }, RESTART_DELAY_MS).unref();
  }

  /**
   * Resolves true once every worker serves the same revision (or, with downloaded bundles, has started:
   * readiness then waits for the bundles), false when a worker exits first.
   */
  #untilServing(): Promise<boolean> {
    const downloads = this.config.opa !== undefined && this.config.opa.bundles.length > 0;
    return new Promise((resolve) => {
      this.#changed = () => {
        const up = downloads ? this.#workers.size === this.count && [...this.#workers.values()].every((state) => state.started) : this.#ready();
        if (this.#failedStarts === 0 && !up) return;
        this.#changed = () => undefined;
        resolve(this.#failedStarts === 0);
      };
    });
  }

  /** The revision every worker serves, or undefined while they are not all serving one. */
  #revision(): string | undefined {
    const revisions = new Set([...this.#workers.values()].map((state) => state.revision));
    if (this.#workers.size !== this.count || revisions.size !== 1) return undefined;
    return [...revisions][0];
  }

  /** Every worker serves one revision: with the plane, the one it activated last, once every bundle is in. */
  #ready(): boolean {
    const revision = this.#revision();
    if (this.#stopping || revision === undefined) return false;
    const plane = this.management?.plane;
    return plane === undefined || (plane.loaded && plane.revision === revision);
  }

  /** SIGTERM to every worker (each drains its calls), then the admin endpoint; 0 when every worker exited cleanly. */
  async #stop(): Promise<number> {
    this.#stopping = true;
    this.#watcher?.close();
    // The bundles in force stay as they are; the workers' last decisions still reach the uploader.
    this.management?.plane.stopPolling();
    this.logger.info({ grace_ms: this.config.shutdownGraceMs, workers: this.#workers.size }, 'shutting down');
    // A worker that never served (still starting) may die of the SIGTERM before its handler is in place:
    // it had nothing to drain, so that too is a clean stop.
    const exits = [...this.#workers.values()].map(async ({ worker, revision }) => {
      const { code, signal } = await this.#stopWorker(worker);
      return code === 0 || (revision === undefined && signal === 'SIGTERM');
    });
    // The workers answer for their drain window, then close their listeners: so does the primary.
    const closing = setTimeout(() => this.handoff.close(), this.config.drainMs);
    const results = await Promise.all(exits);
    clearTimeout(closing);
    this.handoff.close();
    // Every worker has exited, so every decision it made has been received: one last upload.
    await this.management?.plane.stop();
    await this.#admin?.close();
    const clean = results.every(Boolean);
    this.logger.info({ clean }, 'stopped');
    await flushLogger(this.logger);
    return clean ? 0 : 1;
  }

  #stopWorker(worker: Worker): Promise<{ code: number | null; signal: string | null }> {
    return new Promise((resolve) => {
      if (worker.isDead()) return resolve({ code: worker.process.exitCode, signal: worker.process.signalCode });
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), this.config.drainMs + this.config.shutdownGraceMs + KILL_AFTER_GRACE_MS);
      worker.once('exit', (code: number | null, signal: string | null) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
      worker.process.kill('SIGTERM');
    });
  }
}
