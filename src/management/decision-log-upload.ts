// Decision logs uploaded as OPA's decision log plugin uploads them (v1/plugins/logs): events buffered
// (bounded by bytes or by count; the oldest dropped when full), and every min..max_delay_seconds POSTed to
// the service as gzip-compressed JSON arrays, each body at most upload_size_limit_bytes. The mask and drop
// policies (system/log/mask, system/log/drop, entrypoints of the bundle's wasm) run at upload time, off the
// Check path. A failed upload keeps its events for the next one. Nothing is lost silently: every event
// dropped, failed and retried is counted.
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { CheckOutcome } from '../check/check.js';
import type { DecisionEventSink } from '../check/decision-log.js';
import type { Policy } from '../check/policy.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DecisionLogResult, DecisionMetrics } from '../metrics.js';
import { backoffDelayMs } from './bundle-downloader.js';
import type { DecisionLogSetting } from './config-file.js';
import { applyMaskRules, parseMaskRules, type MaskableEvent } from './decision-mask.js';
import type { ServiceClient } from './service-client.js';

const gzip = promisify(gzipCallback);

export interface DecisionLogUploaderOptions {
  setting: DecisionLogSetting;
  client: ServiceClient;
  /** OPA's labels: id, version and the configured ones. */
  labels: Readonly<Record<string, string>>;
  /** The decision path, as the events' `path`. */
  decisionPath: string;
  /** The bundles in force and their manifest revisions (the events' `bundles`). */
  bundles(): Record<string, { revision: string }>;
  /** The policy in force: its mask and drop entrypoints, if it has them. */
  policy(): Policy | undefined;
  logger: Logger;
  metrics: DecisionMetrics;
  /** After an upload that changed the state (an error appeared or cleared): the status report's cue. */
  onStateChange?: () => void;
  random?: () => number;
}

/** What OPA's status reports of the decision log upload: the last upload's error, if it failed. */
export interface DecisionLogState {
  code?: 'decision_log_error';
  message?: string;
  httpCode?: number;
}

/**
 * A decision as a worker process hands it to the primary's uploader (src/workers/): plain data, the policy
 * that decided named by its revision.
 */
export interface ForwardedDecision {
  decisionId: string;
  timestamp: string;
  inputJson?: string;
  resultSet: unknown;
  reason: CheckOutcome['reason'];
  allowed: boolean;
  rule?: string;
  policyRevision: string | undefined;
}

/** What a worker sends of one decision (taken on the Check path: no copy, no encoding). */
export function forwardedDecisionOf(outcome: CheckOutcome, policyRevision: string | undefined): ForwardedDecision {
  return {
    decisionId: outcome.decisionId,
    timestamp: new Date().toISOString(),
    ...(outcome.inputJson === undefined ? {} : { inputJson: outcome.inputJson }),
    resultSet: outcome.resultSet,
    reason: outcome.reason,
    allowed: outcome.allowed,
    ...(outcome.rule === undefined ? {} : { rule: outcome.rule }),
    policyRevision,
  };
}

export interface DecisionLogUploader extends DecisionEventSink {
  /**
   * Buffers a decision a worker made, with the policy that made it and the bundle revisions it came from
   * (the primary knows them by the policy's revision), as record() buffers one of this process.
   */
  recordForwarded(decision: ForwardedDecision, policy: Policy | undefined, bundles: Record<string, { revision: string }>): void;
  readonly state: DecisionLogState;
  start(): void;
  /** Uploads what is buffered now (the periodic upload calls it; tests and shutdown too). */
  flush(): Promise<boolean>;
  /** Stops the timer and tries one last upload, bounded by `timeoutMs`. */
  stop(timeoutMs: number): Promise<void>;
  /** Events waiting for an upload. */
  readonly pending: number;
}

/** An event as recorded on the Check path: cheap to take, turned into OPA's form at upload time. */
interface RecordedDecision {
  decisionId: string;
  timestamp: string;
  inputJson: string | undefined;
  resultSet: unknown;
  outcome: Pick<CheckOutcome, 'reason' | 'allowed' | 'rule'>;
  bundles: Record<string, { revision: string }>;
  policy: Policy | undefined;
  size: number;
}

/** An event in OPA's EventV1 form, as JSON text, ready for a batch. */
interface EncodedEvent {
  json: string;
  /** Uploads it was part of that failed (0: never tried). */
  attempts: number;
}

// The fields around input and result in an event's JSON, for the buffer's byte estimate.
const EVENT_OVERHEAD_BYTES = 400;

export function createDecisionLogUploader(options: DecisionLogUploaderOptions): DecisionLogUploader {
  const { setting, client, logger, metrics } = options;
  const random = options.random ?? Math.random;
  const log = logger.child({ component: 'decision_logs' });
  let recorded: RecordedDecision[] = [];
  let retry: EncodedEvent[] = [];
  let bufferedBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let stopped = false;
  let state: DecisionLogState = {};
  const setState = (next: DecisionLogState): void => {
    const changed = next.message !== state.message || next.httpCode !== state.httpCode;
    state = next;
    if (changed) options.onStateChange?.();
  };
  // max_decisions_per_second as a token bucket, refilled from the clock at each event.
  let tokens = setting.maxDecisionsPerSecond ?? 0;
  let refilled = Date.now();

  const count = (result: DecisionLogResult, n = 1): void => {
    if (n > 0) metrics.decisionLogEvents(result, n);
  };

  const overLimit = (): boolean =>
    setting.bufferType === 'event' ? recorded.length + retry.length > setting.bufferSizeLimitEvents : bufferedBytes > setting.bufferSizeLimitBytes;

  /** OPA drops the oldest events when the buffer is full: the events waiting for a retry first. */
  const dropOldest = (): void => {
    while (overLimit() && (retry.length > 0 || recorded.length > 1)) {
      const dropped = retry.length > 0 ? retry.shift()! : recorded.shift()!;
      bufferedBytes -= 'size' in dropped ? dropped.size : dropped.json.length;
      count('dropped_buffer_full');
    }
  };

  const withinRate = (): boolean => {
    const rate = setting.maxDecisionsPerSecond;
    if (rate === undefined) return true;
    const now = Date.now();
    tokens = Math.min(rate, tokens + ((now - refilled) / 1000) * rate);
    refilled = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };

  /** The event OPA would log, masked; undefined when the drop policy drops it. */
  const encode = (entry: RecordedDecision): string | undefined => {
    const event: MaskableEvent & Record<string, unknown> = {
      labels: options.labels,
      decision_id: entry.decisionId,
      bundles: entry.bundles,
      path: options.decisionPath,
    };
    const policy = entry.policy;
    const dropping = policy?.hasEntrypoint(setting.dropDecision) === true;
    const masking = policy?.hasEntrypoint(setting.maskDecision) === true;
    // Only the mask and drop policies need the input as a value; otherwise its JSON text goes in as it is.
    if (entry.inputJson !== undefined && (dropping || masking || setting.console)) event.input = JSON.parse(entry.inputJson) as unknown;
    const first = Array.isArray(entry.resultSet) ? (entry.resultSet[0] as { result?: unknown } | undefined) : undefined;
    if (first !== undefined && 'result' in first) event.result = first.result;
    // A fail-closed deny has no result: its reason code says why (the internal text stays in the local log).
    if (entry.outcome.reason !== 'allowed' && entry.outcome.reason !== 'policy_denied' && entry.outcome.reason !== 'shadow_denied') {
      event['error'] = { code: entry.outcome.reason, message: `meshwarden denied the request: ${entry.outcome.reason}` };
    }
    event['timestamp'] = entry.timestamp;
    event['custom'] = { meshwarden: { reason: entry.outcome.reason, allowed: entry.outcome.allowed, ...(entry.outcome.rule === undefined ? {} : { rule: entry.outcome.rule }) } };
    if (dropping) {
      const dropped = policy!.evaluateAt(setting.dropDecision, event) as { result?: unknown }[] | undefined;
      if (dropped?.[0]?.result === true) return undefined;
    }
    if (masking) {
      const masks = policy!.evaluateAt(setting.maskDecision, event) as { result?: unknown }[] | undefined;
      const problems: string[] = [];
      applyMaskRules(event, parseMaskRules(masks?.[0]?.result, problems));
      for (const problem of problems) log.error({ decision_id: entry.decisionId, error: problem }, 'mask rule skipped');
    }
    if (setting.console) log.info(event, 'decision log event');
    if (entry.inputJson === undefined || 'input' in event || event.erased !== undefined) return JSON.stringify(event);
    return `{"input":${entry.inputJson},${JSON.stringify(event).slice(1)}`;
  };

  /** Splits events into gzip bodies of at most upload_size_limit_bytes; an event too large alone is dropped. */
  const batch = async (events: EncodedEvent[]): Promise<{ body: Buffer; events: EncodedEvent[] }[]> => {
    if (events.length === 0) return [];
    const body = await gzip(`[${events.map((event) => event.json).join(',')}]`);
    if (body.length <= setting.uploadSizeLimitBytes) return [{ body, events }];
    if (events.length === 1) {
      count('dropped_too_large');
      log.error({ bytes: body.length, limit: setting.uploadSizeLimitBytes }, 'a decision log event is larger than upload_size_limit_bytes even alone; dropped');
      return [];
    }
    const half = Math.ceil(events.length / 2);
    return [...(await batch(events.slice(0, half))), ...(await batch(events.slice(half)))];
  };

  const upload = async (): Promise<boolean> => {
    const taken = recorded;
    recorded = [];
    const encoded: EncodedEvent[] = retry;
    retry = [];
    bufferedBytes = 0;
    for (const entry of taken) {
      try {
        const json = encode(entry);
        if (json === undefined) count('dropped_by_policy');
        else encoded.push({ json, attempts: 0 });
      } catch (error) {
        count('encoding_failed');
        log.error({ decision_id: entry.decisionId, error: describeError(error) }, 'a decision log event could not be encoded; dropped');
      }
    }
    const batches = await batch(encoded);
    for (let index = 0; index < batches.length; index++) {
      const { body, events } = batches[index]!;
      let problem: string | undefined;
      let httpCode = 0;
      try {
        const response = await client.send({
          method: 'POST',
          resource: setting.resource,
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
          body,
          headerTimeoutMs: (client.service.responseHeaderTimeoutSeconds || 10) * 1000,
          maxBodyBytes: 64 * 1024,
        });
        if (response.status < 200 || response.status >= 300) {
          problem = `log upload failed, server replied with HTTP ${response.status}`;
          httpCode = response.status;
        }
      } catch (error) {
        problem = describeError(error);
      }
      if (problem === undefined) {
        count('uploaded', events.length);
        count('retried', events.filter((event) => event.attempts > 0).length);
        continue;
      }
      // This batch and the ones not sent yet wait for the next upload, ahead of the newer events.
      const kept = batches.slice(index).flatMap((left) => left.events);
      count('upload_failed', events.length);
      for (const event of kept) event.attempts++;
      retry = [...kept, ...retry];
      bufferedBytes += kept.reduce((sum, event) => sum + event.json.length, 0) + recorded.reduce((sum, entry) => sum + entry.size, 0);
      dropOldest();
      log.error({ error: problem, events: kept.length }, 'decision log upload failed; the events are kept for the next upload');
      setState({ code: 'decision_log_error', message: problem, ...(httpCode === 0 ? {} : { httpCode }) });
      return false;
    }
    bufferedBytes = recorded.reduce((sum, entry) => sum + entry.size, 0);
    setState({});
    return true;
  };

  // One upload at a time: a flush during one waits for it, then sends what came since.
  let chain: Promise<unknown> = Promise.resolve();
  const flush = (): Promise<boolean> => {
    const next = chain.then(() => (recorded.length + retry.length === 0 ? true : upload()));
    chain = next.catch(() => undefined);
    return next;
  };

  const schedule = (delayMs: number): void => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      void flush().then(
        (ok) => {
          failures = ok ? 0 : failures + 1;
          schedule(ok ? (setting.minDelaySeconds + (setting.maxDelaySeconds - setting.minDelaySeconds) * random()) * 1000 : backoffDelayMs(failures, setting.maxDelaySeconds * 1000, random));
        },
        () => schedule(setting.maxDelaySeconds * 1000),
      );
    }, Math.max(100, delayMs));
    timer.unref();
  };

  const buffer = (decision: ForwardedDecision, policy: Policy | undefined, bundles: Record<string, { revision: string }>): void => {
    if (stopped) {
      // After the last upload began: said, not lost silently.
      count('dropped_at_shutdown');
      return;
    }
    if (!withinRate()) {
      count('dropped_rate_limit');
      return;
    }
    const size = (decision.inputJson?.length ?? 0) + EVENT_OVERHEAD_BYTES;
    recorded.push({
      decisionId: decision.decisionId,
      timestamp: decision.timestamp,
      inputJson: decision.inputJson,
      resultSet: decision.resultSet,
      outcome: { reason: decision.reason, allowed: decision.allowed, ...(decision.rule === undefined ? {} : { rule: decision.rule }) },
      bundles,
      policy,
      size,
    });
    bufferedBytes += size;
    count('buffered');
    dropOldest();
  };

  return {
    get state() {
      return state;
    },
    get pending() {
      return recorded.length + retry.length;
    },
    record(outcome: CheckOutcome): void {
      const policy = options.policy();
      buffer(forwardedDecisionOf(outcome, policy?.revision), policy, options.bundles());
    },
    recordForwarded(decision: ForwardedDecision, policy: Policy | undefined, bundles: Record<string, { revision: string }>): void {
      buffer(decision, policy, bundles);
    },
    start(): void {
      schedule((setting.minDelaySeconds + (setting.maxDelaySeconds - setting.minDelaySeconds) * random()) * 1000);
    },
    flush,
    async stop(timeoutMs: number): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([flush().catch(() => false), new Promise((resolve) => (timeout = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timeout);
      const left = recorded.length + retry.length;
      if (left > 0) {
        count('dropped_at_shutdown', left);
        log.error({ events: left }, 'decision log events not uploaded before shutdown');
      }
    },
  };
}
