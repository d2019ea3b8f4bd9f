// Watches the rules file and hands over its content only once it has settled, so that a file still being
// written is never served: a writer that writes a valid first half, pauses, then appends a DENY rule must not
// have the first half loaded in between.
import { readFileSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';

/** What a settled read found: the file's text, or that reading it failed the same way twice. */
export type SettledContent = { text: string } | { error: string };

export interface FileWatch {
  close(): void;
}

/**
 * Calls `settled` with the file's content once no change has been seen for `settleMs` and two reads, `settleMs`
 * apart, found the same content. Any change seen (a watch event) starts the wait again; the second read catches
 * the writes a watch event can miss (some filesystems and editors do not report every write).
 *
 * The folder is watched, not the file, so a file replaced by rename (editors, Kubernetes ConfigMap volumes
 * swapping their `..data` link) is still seen. What the settle time guarantees: a writer that never pauses for
 * `settleMs` or longer between its writes is never seen half-way; an atomic rename (or the ConfigMap swap) is
 * never seen half-way at all, and only costs the wait.
 */
export function watchSettledFile(path: string, settleMs: number, settled: (content: SettledContent) => void, log: Logger): FileWatch | undefined {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  // The content of the last read since the last change seen; undefined = no read yet.
  let previous: string | undefined;
  const readNow = (): string => {
    try {
      return 'text:' + readFileSync(path, 'utf8');
    } catch (error) {
      // A missing file between an unlink and a rename is a state too: it settles only if it lasts.
      return 'error:' + describeError(error);
    }
  };
  const poll = (): void => {
    const content = readNow();
    if (content !== previous) {
      previous = content;
      timer = setTimeout(poll, settleMs).unref();
      return;
    }
    previous = undefined;
    timer = undefined;
    settled(content.startsWith('text:') ? { text: content.slice('text:'.length) } : { error: content.slice('error:'.length) });
  };
  try {
    const watcher = watch(dirname(path), (_event, file) => {
      if (file !== null && file !== name && file !== '..data') return;
      clearTimeout(timer);
      previous = undefined;
      // Unreferenced, as the watcher is: a pending wait never holds the process open at shutdown.
      timer = setTimeout(poll, settleMs).unref();
    });
    watcher.on('error', (error) => log.error({ error: describeError(error), path }, 'watching the rules file failed; reload with SIGHUP'));
    watcher.unref();
    return {
      close(): void {
        clearTimeout(timer);
        watcher.close();
      },
    };
  } catch (error) {
    log.error({ error: describeError(error), path }, 'cannot watch the rules file; reload with SIGHUP');
    return undefined;
  }
}
