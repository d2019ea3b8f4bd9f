// The TLS material in force for every listener, reloaded when its files change (cert-manager and SPIRE rewrite
// them in place or swap a symlinked folder): a new pair that checks out replaces the old for new connections;
// one that does not keeps the old pair, and the caller is told (logged and counted).
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { describeError } from '../errors.js';
import { readTlsMaterial, type TlsFiles, type TlsMaterial } from './material.js';

export type TlsReloadResult = { result: 'success'; material: TlsMaterial } | { result: 'failure'; error: string };

export interface TlsSourceOptions {
  files: TlsFiles;
  /** The SPIFFE IDs allowed to call; undefined = any client certificate the CA signed (or no mTLS). */
  allowedSpiffeIds: ReadonlySet<string> | undefined;
  /** Every reload attempt, for the log and the metrics. */
  onReload?: (outcome: TlsReloadResult) => void;
  /** Debounce of file events (a rotation writes several files). */
  settleMs?: number;
}

export class TlsSource {
  readonly files: TlsFiles;
  readonly allowedSpiffeIds: ReadonlySet<string> | undefined;
  #current: TlsMaterial;
  readonly #listeners = new Set<(material: TlsMaterial) => void>();
  readonly #watchers: FSWatcher[] = [];
  readonly #onReload: ((outcome: TlsReloadResult) => void) | undefined;
  readonly #settleMs: number;
  #timer: NodeJS.Timeout | undefined;

  /** Reads the first pair; throws TlsMaterialError when it cannot be used (a start-up error). */
  constructor(options: TlsSourceOptions) {
    this.files = options.files;
    this.allowedSpiffeIds = options.allowedSpiffeIds;
    this.#onReload = options.onReload;
    this.#settleMs = options.settleMs ?? 100;
    this.#current = readTlsMaterial(options.files);
  }

  get current(): TlsMaterial {
    return this.#current;
  }

  get requiresClientCertificate(): boolean {
    return this.files.clientCa !== undefined;
  }

  /** Calls `listener` with every new pair put in force. */
  subscribe(listener: (material: TlsMaterial) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads the files again; a pair that fails the checks leaves the one in force. Returns whether it changed. */
  reload(): boolean {
    let next: TlsMaterial;
    try {
      next = readTlsMaterial(this.files);
    } catch (error) {
      this.#onReload?.({ result: 'failure', error: describeError(error) });
      return false;
    }
    this.#current = next;
    for (const listener of this.#listeners) listener(next);
    this.#onReload?.({ result: 'success', material: next });
    return true;
  }

  /** Watches the files' folders (a folder, so a renamed or re-linked file is still seen). */
  watch(onWatchError: (error: string) => void): void {
    const names = new Map<string, Set<string>>();
    for (const path of [this.files.cert, this.files.key, this.files.clientCa]) {
      if (path === undefined) continue;
      const set = names.get(dirname(path)) ?? new Set<string>();
      set.add(basename(path));
      names.set(dirname(path), set);
    }
    for (const [folder, files] of names) {
      try {
        const watcher = watch(folder, (_event, file) => {
          // Kubernetes secret volumes swap a ..data symlink; other writers touch the file itself.
          if (file !== null && !files.has(file) && !file.startsWith('..')) return;
          clearTimeout(this.#timer);
          this.#timer = setTimeout(() => this.reload(), this.#settleMs);
        });
        watcher.on('error', (error) => onWatchError(describeError(error)));
        watcher.unref();
        this.#watchers.push(watcher);
      } catch (error) {
        onWatchError(describeError(error));
      }
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers.splice(0)) watcher.close();
    this.#listeners.clear();
  }
}
