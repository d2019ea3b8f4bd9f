// src/logger.ts: the log line's timestamp and the per-turn batching in front of pino's destination.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TurnBatch, createLogger, isoTimeAt, type BatchTarget } from '../../src/logger.js';
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

describe('TurnBatch', () => {
  it('hands the lines of one turn to the destination once, joined in order', async () => {
    const target = new RecordingTarget();
    const batch = new TurnBatch(target);
    batch.write('one\n');
    batch.write('two\n');
    batch.write('three\n');
    expect(target.writes).toEqual([]);
    await nextTurn();
    expect(target.writes).toEqual(['one\ntwo\nthree\n']);
    batch.write('four\n');
    await nextTurn();
    await nextTurn();
    expect(target.writes).toEqual(['one\ntwo\nthree\n', 'four\n']);
  });

  it('with a write limit, hands over whole lines in writes of at most that many bytes (a longer line alone)', async () => {
    const target = new RecordingTarget();
    const batch = new TurnBatch(target, 10);
    for (const line of ['aaaa\n', 'bbbb\n', 'cc\n', 'é-long-line-of-20b\n', 'dd\n']) batch.write(line);
    await nextTurn();
    expect(target.writes).toEqual(['aaaa\nbbbb\n', 'cc\n', 'é-long-line-of-20b\n', 'dd\n']);
    for (const write of target.writes.slice(0, 2)) expect(Buffer.byteLength(write)).toBeLessThanOrEqual(10);
  });

  it('passes pending lines on before flushing the destination', async () => {
    const target = new RecordingTarget();
    const batch = new TurnBatch(target);
    batch.write('a\n');
    await new Promise<void>((resolve) => batch.flush(() => resolve()));
    batch.write('b\n');
    batch.flushSync();
    expect(target.calls).toEqual(['write', 'flush', 'write', 'flushSync']);
    expect(target.writes).toEqual(['a\n', 'b\n']);
    await nextTurn();
    expect(target.writes).toEqual(['a\n', 'b\n']);
  });

  it('carries pino lines unchanged', async () => {
    const target = new RecordingTarget();
    const logger = createLogger('info', new TurnBatch(target));
    logger.info({ n: 1 }, 'first');
    logger.info({ n: 2, authorization: 'kept: not under input' }, 'second');
    logger.debug('below the level');
    await nextTurn();
    const lines = target.writes.join('').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line['msg'], line['n'], line['level']])).toEqual([
      ['first', 1, 'info'],
      ['second', 2, 'info'],
    ]);
  });

  it('writes out the lines of the last turn when the process exits in that turn', () => {
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
