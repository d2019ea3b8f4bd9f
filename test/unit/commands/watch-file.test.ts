// src/commands/watch-file.ts: the content is handed over only once it has settled, over a real folder watch.
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { watchSettledFile, type FileWatch, type SettledContent } from '../../../src/commands/watch-file.js';
import { createLogger } from '../../../src/logger.js';

const SETTLE_MS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const logLines: string[] = [];
const log = createLogger('info', { write: (line: string) => void logLines.push(line) });

let watch: FileWatch | undefined;
afterEach(() => watch?.close());

function watched(): { file: string; seen: { at: number; content: SettledContent }[] } {
  const dir = mkdtempSync(join(tmpdir(), 'meshwarden-watch-'));
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, 'first\n');
  const seen: { at: number; content: SettledContent }[] = [];
  watch = watchSettledFile(file, SETTLE_MS, (content) => seen.push({ at: Date.now(), content }), log);
  expect(watch).toBeDefined();
  return { file, seen };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('watchSettledFile', () => {
  it('hands over the final content once, after writes that pause for less than the settle time', async () => {
    const { file, seen } = watched();
    writeFileSync(file, 'a\n');
    for (const piece of ['b\n', 'c\n', 'd\n']) {
      await sleep(SETTLE_MS / 2);
      appendFileSync(file, piece);
    }
    const lastWrite = Date.now();
    await until(() => seen.length > 0);
    await sleep(3 * SETTLE_MS);
    expect(seen.map((entry) => entry.content)).toEqual([{ text: 'a\nb\nc\nd\n' }]);
    // No earlier than two settle times after the last write: a quiet period, then the second, equal read.
    expect(seen[0]!.at - lastWrite).toBeGreaterThanOrEqual(2 * SETTLE_MS - 20);
  });

  it('a file replaced by rename is handed over whole', async () => {
    const { file, seen } = watched();
    writeFileSync(`${file}.tmp`, 'renamed\n');
    renameSync(`${file}.tmp`, file);
    await until(() => seen.length > 0);
    expect(seen[0]!.content).toEqual({ text: 'renamed\n' });
  });

  it('a file that stays missing is handed over as a read error (the reload then fails and is logged)', async () => {
    const { file, seen } = watched();
    rmSync(file);
    await until(() => seen.length > 0);
    expect(seen[0]!.content).toMatchObject({ error: expect.stringMatching(/ENOENT/) });
  });

  it('ignores other files of the folder', async () => {
    const { file, seen } = watched();
    writeFileSync(join(file, '..', 'other.yaml'), 'x');
    await sleep(3 * SETTLE_MS);
    expect(seen).toEqual([]);
  });
});
