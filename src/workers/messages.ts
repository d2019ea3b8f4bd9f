// What the primary and its workers tell each other over the cluster IPC channel (prom-client's metrics
// requests share the channel, under their own message types).

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

export type PrimaryMessage = ReloadMessage;
export type WorkerMessage = RevisionMessage;

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
