// What the primary and its workers tell each other over the cluster IPC channel (prom-client's metrics
// requests share the channel, under their own message types).
import type { HandedListener } from '../listeners/connection-source.js';
import type { ForwardedDecision } from '../management/decision-log-upload.js';

/** Primary → worker: load the policy (or rules file) and key files again. */
export interface ReloadMessage {
  type: 'meshwarden:reload';
  /** The rules file's settled content as the primary read it, so every worker compiles the same text. */
  rulesText?: string;
}

/** Worker → primary: the policy revision this worker serves, after starting and after every reload. */
export interface RevisionMessage {
  type: 'meshwarden:revision';
  revision: string;
  /** false when the last reload failed (the worker keeps serving its last good policy). */
  reloaded: boolean;
}

/**
 * Worker → primary: the worker could not start (a port in use, an unresolvable host): the primary reports the
 * problems once, as a single process would, instead of every worker writing the same line.
 */
export interface StartFailedMessage {
  type: 'meshwarden:start-failed';
  problems: string[];
}

/** Primary → worker: a connection accepted on `listener`'s address; its socket is the message's handle. */
export interface ConnectionMessage {
  type: 'meshwarden:connection';
  id: number;
  listener: HandedListener;
}

/** Worker → primary: connection `id` was taken (the primary closes its copy) or refused (it goes to another worker). */
export interface ConnectionTakenMessage {
  type: 'meshwarden:connection-taken';
  id: number;
  taken: boolean;
}

/** Worker → primary: from now on `listener`'s connections may (or may no longer) be handed to this worker. */
export interface AcceptingMessage {
  type: 'meshwarden:accepting';
  listener: HandedListener;
  accepting: boolean;
}

/** Primary → worker: the policy the primary activated from the OPA config file's bundles, to serve as it is. */
export interface PolicyMessage {
  type: 'meshwarden:policy';
  source: string;
  decision: string;
  /** The wasm module, base64 (the channel carries JSON). */
  wasm: string;
  dataJson: string;
  revision: string;
}

/** Worker → primary: this worker started without a policy and waits for the one the primary activated. */
export interface PolicyWantedMessage {
  type: 'meshwarden:policy-wanted';
}

/** Worker → primary: decisions for the one decision-log upload, in batches. */
export interface DecisionsMessage {
  type: 'meshwarden:decisions';
  decisions: ForwardedDecision[];
  /** Decisions the worker could not send (the channel was full): counted by the primary as dropped. */
  dropped: number;
}

/** The environment variable that tells a worker the ports its primary listens on (JSON: listener → port). */
export const LISTENER_PORTS_VARIABLE = 'MESHWARDEN_PRIMARY_PORTS';

export type PrimaryMessage = ReloadMessage | ConnectionMessage | PolicyMessage;
export type WorkerMessage = RevisionMessage | StartFailedMessage | ConnectionTakenMessage | AcceptingMessage | DecisionsMessage | PolicyWantedMessage;

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
