// The OPA config file's management plane in the primary of `serve --workers N`: one downloader per bundle
// (one poll, one ETag, one persist directory), one decision-log buffer and uploader, one status reporter,
// as in a single process. Each bundle is checked completely here (compiled and instantiated) before the
// policy made of it is handed to every worker; a bad one never leaves the primary. The workers send their
// decisions here over IPC; the status reports the bundle revisions the workers actually serve.
import type { BundleDownloader, BundleState } from '../management/bundle-downloader.js';
import type { ActivatedBundle } from '../management/bundle-set.js';
import type { DecisionLogUploader } from '../management/decision-log-upload.js';
import type { StatusReporter } from '../management/status.js';
import { createDownloaders, decisionLogUploaderOf, labelsOf, statusReporterOf } from '../commands/serve.js';
import type { Logger } from '../logger.js';
import type { DecisionMetrics } from '../metrics.js';
import type { Runtime } from '../runtime.js';
import type { Policy } from '../check/policy.js';
import type { DecisionsMessage, PolicyMessage } from './messages.js';

/** The last few policies, by revision: a decision a worker made just before a swap still finds its own. */
const POLICIES_KEPT = 4;
const DECISION_LOG_SHUTDOWN_MS = 5000;

export interface ManagementPlane {
  /** Whether every configured bundle has been activated once (OPA's /health?bundles). */
  readonly loaded: boolean;
  /** The revision every worker must serve (the last policy activated), or undefined while there is none. */
  readonly revision: string | undefined;
  /** The policy to hand a worker (one starting, or one that has not got the last one), if any. */
  readonly policy: PolicyMessage | undefined;
  start(): void;
  /** SIGHUP: every bundle is polled now. */
  pollNow(): void;
  /** The workers now serve these revisions (one per worker): status follows what they serve. */
  workersServe(revisions: readonly (string | undefined)[]): void;
  /** A batch of decisions from a worker. */
  received(message: DecisionsMessage): void;
  /** Polling stops (the policy in force stays): at the start of a shutdown. */
  stopPolling(): void;
  /** After the last worker exited: one last upload (bounded), then the reporters stop. */
  stop(): Promise<void>;
}

/** Whether the OPA config file has anything for the primary to run. */
export function hasManagementPlane(runtime: Pick<Runtime, 'config'>): boolean {
  const opa = runtime.config.opa;
  return opa !== undefined && (opa.bundles.length > 0 || opa.decisionLogs !== undefined || opa.status !== undefined);
}

/**
 * `metrics`: the primary's own registry (bundle polls, policy loads, decision-log events), merged into
 * /metrics beside the workers' sums. `changed`: readiness or the policy to hand out changed.
 */
export function createManagementPlane(runtime: Runtime, metrics: DecisionMetrics, logger: Logger, changed: () => void): ManagementPlane {
  const labels = labelsOf(runtime.config.opa?.labels ?? {});
  const policies = new Map<string, { policy: Policy; bundles: Record<string, { revision: string }> }>();
  let current: PolicyMessage | undefined;
  /** The revision all workers serve (undefined while they disagree or have none). */
  let served: string | undefined;
  let downloaders: BundleDownloader[] = [];
  let status: StatusReporter | undefined;

  const remember = (policy: Policy, bundles: Record<string, { revision: string }>): void => {
    policies.delete(policy.revision);
    policies.set(policy.revision, { policy, bundles });
    while (policies.size > POLICIES_KEPT) policies.delete(policies.keys().next().value!);
  };
  // A local policy (--bundle beside decision logs or status): the workers load the same files, same revision.
  const local = runtime.policies.current;
  if (runtime.plan.remote === undefined && local !== undefined) remember(local, {});

  const activeRevisions = (): Record<string, { revision: string }> => Object.fromEntries(downloaders.map((bundle) => [bundle.name, { revision: bundle.state.activeRevision }]));

  const onPolicy = (name: string, activated: ActivatedBundle): void => {
    const files = activated.policyFiles;
    if (activated.policy === undefined || files === undefined) return;
    // The downloader records this bundle's new revision only after this returns: it is taken from the activation.
    remember(activated.policy, { ...activeRevisions(), [name]: { revision: activated.revision } });
    current = { type: 'meshwarden:policy', source: files.source, decision: files.decision, wasm: files.wasm.toString('base64'), dataJson: files.dataJson, revision: files.revision };
    changed();
  };

  const uploader: DecisionLogUploader | undefined = decisionLogUploaderOf(runtime, labels, () => downloaders, metrics, logger, () => status?.changed());
  // What the workers serve, not what the primary activated: a bundle's revision shows once every worker has it.
  const reportedBundles = (): readonly BundleState[] => {
    const serving = served === undefined ? undefined : policies.get(served)?.bundles;
    return downloaders.map((bundle) => ({ ...bundle.state, activeRevision: serving?.[bundle.name]?.revision ?? '' }));
  };
  status = statusReporterOf(runtime, labels, reportedBundles, uploader, logger);
  if (runtime.plan.remote !== undefined) {
    downloaders = createDownloaders(runtime.plan.remote, runtime.policies, metrics, logger, () => {
      status?.changed();
      changed();
    }, onPolicy);
  }

  return {
    get loaded() {
      return downloaders.every((bundle) => bundle.loaded);
    },
    get revision() {
      return runtime.plan.remote === undefined ? local?.revision : current?.revision;
    },
    get policy() {
      return current;
    },
    start(): void {
      for (const bundle of downloaders) bundle.start();
      uploader?.start();
      status?.changed();
    },
    pollNow(): void {
      for (const bundle of downloaders) bundle.pollNow();
    },
    workersServe(revisions: readonly (string | undefined)[]): void {
      const agreed = new Set(revisions).size === 1 ? revisions[0] : undefined;
      if (agreed === served) return;
      served = agreed;
      if (agreed !== undefined) status?.changed();
    },
    received(message: DecisionsMessage): void {
      if (uploader === undefined) return;
      if (message.dropped > 0) metrics.decisionLogEvents('dropped_buffer_full', message.dropped);
      for (const decision of message.decisions) {
        const known = decision.policyRevision === undefined ? undefined : policies.get(decision.policyRevision);
        uploader.recordForwarded(decision, known?.policy ?? runtime.policies.current, known?.bundles ?? activeRevisions());
      }
    },
    stopPolling(): void {
      for (const bundle of downloaders) bundle.stop();
    },
    async stop(): Promise<void> {
      for (const bundle of downloaders) bundle.stop();
      status?.stop();
      await uploader?.stop(DECISION_LOG_SHUTDOWN_MS);
      for (const client of runtime.serviceClients.values()) client.close();
    },
  };
}
