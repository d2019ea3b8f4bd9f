// One bundle of the config file, kept current as OPA's downloader keeps it (v1/download/download.go): a GET
// with If-None-Match; 304 keeps the bundle in force; the next poll after a jittered delay within
// min_delay_seconds..max_delay_seconds, at once when the server long-polls, after an exponential back-off
// on errors. A new archive is checked completely before it is swapped in; a bad one is logged and counted,
// and the last good one keeps serving. With persist, the last good archive is kept on disk and served at
// start until the service answers. From an OCI registry (services.<name>.type: oci) the poll is a pull by
// manifest digest instead (oci-registry.ts): an unchanged manifest, or an unchanged bundle layer, is a 304.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { BundlePollResult } from '../metrics.js';
import type { ActivatedBundle, BundleSet } from './bundle-set.js';
import type { BundleSetting } from './config-file.js';
import { createOciPuller, OciPullError, type OciPuller } from './oci-registry.js';
import type { ServiceClient } from './service-client.js';

/** What one poll came to (a metric label). */
export type PollResult = BundlePollResult;

/** What OPA's status API reports of a bundle. */
export interface BundleState {
  readonly name: string;
  /** The manifest revision of the bundle in force ('' without one). */
  readonly activeRevision: string;
  /** Whether the last bundle activated was a snapshot or a delta (OPA's status `type`). */
  readonly type?: 'snapshot' | 'delta';
  readonly lastRequest?: string;
  readonly lastSuccessfulRequest?: string;
  readonly lastSuccessfulDownload?: string;
  readonly lastSuccessfulActivation?: string;
  /** Set while the last poll failed: why (for the log and status; never sent to a Check caller). */
  readonly code?: 'bundle_error';
  readonly message?: string;
  /** The HTTP status of the last failed download, 0 for a connection failure. */
  readonly httpCode?: number;
}

export interface BundleDownloaderOptions {
  setting: BundleSetting;
  client: ServiceClient;
  /** Checks each archive with the other bundles of the config file, and makes the policy of them all. */
  bundleSet: BundleSet;
  /** OPA's persistence_directory: persisted bundles are at bundles/<name>/bundle.tar.gz below it. */
  persistenceDirectory: string;
  /** Swaps the checked policy in (when the set made one: every bundle is there). */
  onActivated(bundle: ActivatedBundle): void;
  /** After every poll and the persisted load: the result and the state (for metrics and status). */
  onPoll(result: PollResult, state: BundleState): void;
  logger: Logger;
  /** [0, 1): the jitter's source (tests make it fixed). */
  random?: () => number;
}

export interface BundleDownloader {
  readonly name: string;
  /** True once a bundle has been activated (downloaded or persisted): what readiness waits for. */
  readonly loaded: boolean;
  readonly state: BundleState;
  /** Loads the persisted bundle (if any and persist is on), then polls until stopped. */
  start(): void;
  /** Polls now, unless a poll is under way (SIGHUP). */
  pollNow(): void;
  stop(): void;
}

// OPA's first retry delay; the back-off grows from it by 1.6 with 20% jitter up to max_delay_seconds.
const MIN_RETRY_DELAY_MS = 100;
// A floor under every delay, so that min=max=0 cannot turn polling into a busy loop against the service.
const DELAY_FLOOR_MS = 100;
const LONG_POLL_CONTENT_TYPE = 'application/vnd.openpolicyagent.bundles';

/** OPA's util.DefaultBackoff: 0 on the first retry, then base·1.6ⁿ capped at max, ±20%. */
export function backoffDelayMs(retries: number, maxMs: number, random: () => number): number {
  if (retries === 0) return 0;
  let delay = MIN_RETRY_DELAY_MS;
  for (let left = retries; delay < maxMs && left > 0; left--) delay *= 1.6;
  delay = Math.min(delay, maxMs);
  return Math.max(0, delay * (1 + 0.2 * (random() * 2 - 1)));
}

/** OPA's polling delay after a successful poll: uniform in [min, max]. */
export function pollingDelayMs(setting: Pick<BundleSetting, 'minDelaySeconds' | 'maxDelaySeconds'>, random: () => number): number {
  return (setting.minDelaySeconds + (setting.maxDelaySeconds - setting.minDelaySeconds) * random()) * 1000;
}

export function persistedBundlePath(persistenceDirectory: string, name: string): string {
  return join(persistenceDirectory, 'bundles', name, 'bundle.tar.gz');
}

export function createBundleDownloader(options: BundleDownloaderOptions): BundleDownloader {
  const { setting, client, logger } = options;
  const random = options.random ?? Math.random;
  const log = logger.child({ bundle: setting.name });
  const puller: OciPuller | undefined = setting.oci === undefined ? undefined : createOciPuller({ client, reference: setting.oci, sizeLimitBytes: setting.sizeLimitBytes });
  const source = puller?.source ?? client.urlOf(setting.resource);
  let state: BundleState = { name: setting.name, activeRevision: '' };
  let loaded = false;
  // The ETag of the bundle in force; from a registry, its layer's digest (as OPA), with the manifest's digest beside it.
  let etag = '';
  let manifestDigest: string | undefined;
  // OPA starts with long polling on when it is configured, then follows what the server says it offers.
  let longPolling = setting.longPollingTimeoutSeconds !== undefined;
  let retries = 0;
  let timer: NodeJS.Timeout | undefined;
  let polling = false;
  let stopped = false;
  let abort: AbortController | undefined;

  const activate = async (archive: Buffer, from: string): Promise<ActivatedBundle> => {
    const activated = await options.bundleSet.activate(setting, archive, from);
    options.onActivated(activated);
    loaded = true;
    return activated;
  };

  const loadPersisted = async (): Promise<void> => {
    if (!setting.persist) return;
    const path = persistedBundlePath(options.persistenceDirectory, setting.name);
    let archive: Buffer;
    try {
      archive = readFileSync(path);
    } catch {
      return; // nothing persisted yet
    }
    try {
      const activated = await activate(archive, path);
      const now = new Date().toISOString();
      state = { ...state, activeRevision: activated.revision, type: activated.kind, lastSuccessfulActivation: now };
      log.info({ path, revision: activated.revision, policy_revision: activated.policy?.revision }, 'persisted bundle activated; downloading the current one');
      options.onPoll('activated', state);
    } catch (error) {
      log.error({ path, error: describeError(error) }, 'the persisted bundle cannot be used; waiting for the service');
      options.onPoll('rejected', state);
    }
  };

  const persist = (archive: Buffer): void => {
    const path = persistedBundlePath(options.persistenceDirectory, setting.name);
    try {
      mkdirSync(join(path, '..'), { recursive: true });
      // Written beside and renamed over, so a crash never leaves half a bundle to load at the next start.
      writeFileSync(`${path}.tmp`, archive);
      renameSync(`${path}.tmp`, path);
    } catch (error) {
      log.error({ path, error: describeError(error) }, 'the bundle could not be persisted; the one on disk (if any) stays');
    }
  };

  /** One GET and what follows; returns whether it succeeded (the delay depends on it). */
  const pollOnce = async (): Promise<boolean> => {
    const requested = new Date().toISOString();
    state = { ...state, lastRequest: requested };
    if (puller !== undefined) return pullOnce(puller, requested);
    const wait = longPolling ? setting.longPollingTimeoutSeconds : undefined;
    abort = new AbortController();
    let response;
    try {
      response = await client.send({
        method: 'GET',
        resource: setting.resource,
        headers: {
          ...(etag === '' ? {} : { 'if-none-match': etag }),
          // As OPA: snapshot and delta bundles are both taken (bundle-activation.ts tells them apart).
          prefer: wait === undefined ? 'modes=snapshot,delta' : `modes=snapshot,delta;wait=${wait}`,
        },
        headerTimeoutMs: (client.service.responseHeaderTimeoutSeconds || 10) * 1000 + (wait ?? 0) * 1000,
        maxBodyBytes: setting.sizeLimitBytes,
        signal: abort.signal,
      });
    } catch (error) {
      if (stopped) return false;
      return failed('download_failed', 0, `download failed: ${describeError(error)}`);
    }
    longPolling = setting.longPollingTimeoutSeconds !== undefined && response.headers['content-type'] === LONG_POLL_CONTENT_TYPE;
    if (response.status === 304) return notModified(requested);
    if (response.status !== 200) return failed('download_failed', response.status, `the server answered ${response.status}`);
    return activateDownloaded(response.body, typeof response.headers.etag === 'string' ? response.headers.etag : '', requested, 200);
  };

  /** One pull from the registry: an unchanged manifest or layer counts as a 304. */
  const pullOnce = async (registry: OciPuller, requested: string): Promise<boolean> => {
    abort = new AbortController();
    let pulled;
    try {
      pulled = await registry.pull({ ...(manifestDigest === undefined ? {} : { manifestDigest }), ...(etag === '' ? {} : { layerDigest: etag }) }, abort.signal);
    } catch (error) {
      if (stopped) return false;
      return failed('download_failed', error instanceof OciPullError ? error.httpCode : 0, `download failed: ${describeError(error)}`);
    }
    if (pulled.kind === 'unchanged') {
      manifestDigest = pulled.manifestDigest;
      return notModified(requested);
    }
    const ok = await activateDownloaded(pulled.archive, pulled.layerDigest, requested, 200);
    if (ok) manifestDigest = pulled.manifestDigest;
    return ok;
  };

  const notModified = (requested: string): true => {
    state = { name: state.name, activeRevision: state.activeRevision, ...(state.type === undefined ? {} : { type: state.type }), ...pick(state), lastRequest: requested, lastSuccessfulRequest: requested };
    options.onPoll('not_modified', state);
    return true;
  };

  /** A downloaded archive checked and swapped in (or rejected, the one in force kept); `newEtag` is remembered if it is taken. */
  const activateDownloaded = async (archive: Buffer, newEtag: string, requested: string, httpCode: number): Promise<boolean> => {
    const downloaded = new Date().toISOString();
    let activated: ActivatedBundle;
    try {
      activated = await activate(archive, source);
    } catch (error) {
      state = { ...state, lastSuccessfulRequest: requested, lastSuccessfulDownload: downloaded };
      return failed('rejected', httpCode, `bundle rejected: ${describeError(error)}`);
    }
    etag = newEtag;
    state = {
      name: state.name,
      activeRevision: activated.revision,
      type: activated.kind,
      lastRequest: requested,
      lastSuccessfulRequest: requested,
      lastSuccessfulDownload: downloaded,
      lastSuccessfulActivation: new Date().toISOString(),
    };
    if (setting.persist && activated.kind === 'snapshot') persist(archive);
    log.info({ source, revision: activated.revision, policy_revision: activated.policy?.revision, etag }, 'bundle activated');
    options.onPoll('activated', state);
    return true;
  };

  const failed = (result: PollResult, httpCode: number, message: string): false => {
    state = { ...state, code: 'bundle_error', message, httpCode };
    log.error({ source, error: message, active_revision: state.activeRevision, loaded }, loaded ? 'bundle update failed; the last good bundle keeps serving' : 'bundle update failed; no bundle is loaded yet');
    options.onPoll(result, state);
    return false;
  };

  const schedule = (delayMs: number): void => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void run(), Math.max(DELAY_FLOOR_MS, delayMs));
    timer.unref();
  };

  const run = async (): Promise<void> => {
    if (polling || stopped) return;
    polling = true;
    let ok = false;
    try {
      ok = await pollOnce();
    } catch (error) {
      // pollOnce handles its failures; anything else is a bug, logged, and polling goes on.
      log.error({ error: describeError(error) }, 'bundle poll failed unexpectedly');
    } finally {
      polling = false;
      abort = undefined;
    }
    if (ok) retries = 0;
    const delay = !ok ? backoffDelayMs(retries++, setting.maxDelaySeconds * 1000, random) : longPolling ? 0 : pollingDelayMs(setting, random);
    schedule(delay);
  };

  return {
    name: setting.name,
    get loaded() {
      return loaded;
    },
    get state() {
      return state;
    },
    start(): void {
      void loadPersisted().then(() => run());
    },
    pollNow(): void {
      if (polling || stopped) return;
      clearTimeout(timer);
      void run();
    },
    stop(): void {
      stopped = true;
      clearTimeout(timer);
      abort?.abort();
    },
  };
}

/** The timestamps of a state, without its error. */
function pick(state: BundleState): Partial<BundleState> {
  const { lastSuccessfulDownload, lastSuccessfulActivation } = state;
  return { ...(lastSuccessfulDownload === undefined ? {} : { lastSuccessfulDownload }), ...(lastSuccessfulActivation === undefined ? {} : { lastSuccessfulActivation }) };
}
