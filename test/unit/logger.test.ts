// src/logger.ts: the log line's timestamp and the batching of lines in front of pino's destination.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_WINDOW_MS, LineBatch, createLogger, isoTimeAt, type BatchTarget } from '../../src/logger.js';
import { ROOT } from '../helpers/tools.js';

const YEAR_9999_END = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

describe('isoTimeAt', () => {
  it("writes what pino's isoTime writes, for any instant from 1970 to 9999", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: YEAR_9999_END }), (ms) => {
        expect(isoTimeAt(ms)).toBe(`,"time":"${new Date(ms).toISOString()}"`);
      }),
      { numRuns: 2000 },
    );
  });

  it('stays right through consecutive milliseconds, second boundaries and jumps back', () => {
    const start = Date.UTC(2026, 11, 2, 6, 59, 59, 990);
    const instants = [...Array.from({ length: 30 }, (_, i) => start + i), start - 5000, start, start + 86_400_000, start];
    for (const ms of instants) expect(isoTimeAt(ms)).toBe(`,"time":"${new Date(ms).toISOString()}"`);
  });

  it("is the format of pino's own isoTime", () => {
    expect(pino.stdTimeFunctions.isoTime()).toMatch(/^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
  });
});

class RecordingTarget implements BatchTarget {
  readonly calls: string[] = [];
  readonly writes: string[] = [];
  write(data: string): boolean {
    this.calls.push('write');
    this.writes.push(data);
    return true;
  }
  flush(callback: (error?: Error) => void): void {
    this.calls.push('flush');
    callback();
  }
  flushSync(): void {
    this.calls.push('flushSync');
  }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('LineBatch', () => {
  it('hands the lines of one window to the destination once, joined in order, when the window ends', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const target = new RecordingTarget();
      const batch = new LineBatch(target, { windowMs: 30 });
      batch.write('one\n');
      await nextTurn();
      vi.advanceTimersByTime(10);
      batch.write('two\n');
      batch.write('three\n');
      // Turns go by within the window: nothing is written yet.
      await nextTurn();
      vi.advanceTimersByTime(19);
      expect(target.writes).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(target.writes).toEqual(['one\ntwo\nthree\n']);
      // The next line opens a window of its own.
      batch.write('four\n');
      vi.advanceTimersByTime(29);
      expect(target.writes).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(target.writes).toEqual(['one\ntwo\nthree\n', 'four\n']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('waits a few milliseconds by default', () => {
    expect(DEFAULT_WINDOW_MS).toBeGreaterThan(0);
    expect(DEFAULT_WINDOW_MS).toBeLessThanOrEqual(10);
  });

  it('hands a window over at once when its lines reach 64 Ki characters, not holding a burst', () => {
    const target = new RecordingTarget();
    const batch = new LineBatch(target, { windowMs: 60_000 });
    const line = 'x'.repeat(1023) + '\n';
    for (let i = 0; i < 63; i++) batch.write(line);
    expect(target.writes).toEqual([]);
    batch.write(line);
    expect(target.writes).toEqual([line.repeat(64)]);
    batch.write('after\n');
    expect(target.writes).toHaveLength(1);
    batch.flushSync();
    expect(target.writes).toEqual([line.repeat(64), 'after\n']);
  });

  it('with a write limit, hands over whole lines in writes of at most that many bytes (a longer line alone)', async () => {
    const target = new RecordingTarget();
    const batch = new LineBatch(target, { writeBytes: 10, windowMs: 1 });
    for (const line of ['aaaa\n', 'bbbb\n', 'cc\n', 'é-long-line-of-20b\n', 'dd\n']) batch.write(line);
    await wait(20);
    expect(target.writes).toEqual(['aaaa\nbbbb\n', 'cc\n', 'é-long-line-of-20b\n', 'dd\n']);
    for (const write of target.writes.slice(0, 2)) expect(Buffer.byteLength(write)).toBeLessThanOrEqual(10);
  });

  it('passes pending lines on before flushing the destination', async () => {
    const target = new RecordingTarget();
    const batch = new LineBatch(target, { windowMs: 1 });
    batch.write('a\n');
    await new Promise<void>((resolve) => batch.flush(() => resolve()));
    batch.write('b\n');
    batch.flushSync();
    expect(target.calls).toEqual(['write', 'flush', 'write', 'flushSync']);
    expect(target.writes).toEqual(['a\n', 'b\n']);
    await wait(20);
    expect(target.writes).toEqual(['a\n', 'b\n']);
  });

  it('carries pino lines unchanged', async () => {
    const target = new RecordingTarget();
    const logger = createLogger('info', new LineBatch(target, { windowMs: 1 }));
    logger.info({ n: 1 }, 'first');
    logger.info({ n: 2, authorization: 'kept: not under input' }, 'second');
    logger.debug('below the level');
    await wait(20);
    const lines = target.writes.join('').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line['msg'], line['n'], line['level']])).toEqual([
      ['first', 1, 'info'],
      ['second', 2, 'info'],
    ]);
  });

  it('writes out the lines of a window still open when the process exits', () => {
    const script = `
      import { createLogger } from ${JSON.stringify(join(ROOT, 'dist', 'src', 'logger.js'))};
      const logger = createLogger('info');
      for (let i = 0; i < 500; i++) logger.info({ i }, 'line');
      process.exit(3);
    `;
    let stdout = '';
    try {
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    } catch (error) {
      const failed = error as { status: number; stdout: string };
      expect(failed.status).toBe(3);
      stdout = failed.stdout;
    }
    const numbers = stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { i: number }).i);
    expect(numbers).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });
});
