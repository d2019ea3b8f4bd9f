// A worker's decision events, handed to the primary's one decision-log uploader over the IPC channel: taken as
// plain data on the Check path, sent in batches (one message per batch, not per decision). What the channel
// cannot take (a primary too slow to read) is bounded and counted, never queued without limit.
import type { CheckOutcome } from '../check/check.js';
import type { DecisionEventSink } from '../check/decision-log.js';
import { forwardedDecisionOf, type ForwardedDecision } from '../management/decision-log-upload.js';
import type { DecisionsMessage } from './messages.js';

/** A batch goes when it has this many decisions, or after BATCH_DELAY_MS. */
const BATCH_SIZE = 256;
const BATCH_DELAY_MS = 20;
/** Batches written to the channel and not yet flushed by it at most; beyond, a batch is dropped (and counted). */
const MAX_UNSENT_BATCHES = 64;

export interface DecisionForwarder extends DecisionEventSink {
  /** Sends what is batched and waits until the channel has written every batch, for at most `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
}

/** `policyRevision`: the revision of the policy in force, which the primary maps to its bundles and masks. */
export function createDecisionForwarder(policyRevision: () => string | undefined): DecisionForwarder {
  let batch: ForwardedDecision[] = [];
  let timer: NodeJS.Timeout | undefined;
  let unsent = 0;
  /** Decisions dropped since the last batch that got through: the primary counts them (dropped_buffer_full). */
  let dropped = 0;
  let drained: (() => void) | undefined;

  const send = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (batch.length === 0 && dropped === 0) return;
    const decisions = batch;
    batch = [];
    if (!process.connected || unsent >= MAX_UNSENT_BATCHES) {
      dropped += decisions.length;
      return;
    }
    const message: DecisionsMessage = { type: 'meshwarden:decisions', decisions, dropped };
    dropped = 0;
    unsent++;
    process.send!(message, undefined, {}, (error: Error | null) => {
      unsent--;
      if (error !== null) dropped += decisions.length;
      if (unsent === 0) drained?.();
    });
  };

  return {
    record(outcome: CheckOutcome): void {
      batch.push(forwardedDecisionOf(outcome, policyRevision()));
      if (batch.length >= BATCH_SIZE) send();
      else if (timer === undefined) {
        timer = setTimeout(send, BATCH_DELAY_MS);
        timer.unref();
      }
    },
    async close(timeoutMs: number): Promise<void> {
      send();
      if (unsent === 0) return;
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => (drained = resolve)), new Promise<void>((resolve) => (timeout = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timeout);
    },
  };
}
