// The only pino import: level, redaction, destination.
import { pino, type Logger, type DestinationStream, type Level } from 'pino';

export type { Logger, Level };

export const LOG_LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

// A second guard for the commonest credentials; the debug input line is redacted by name before it is
// logged (check/redact-input.ts), which covers many more places than these paths.
const REDACTED_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key'];
const REDACT_PATHS = REDACTED_HEADERS.map((name) => `input.attributes.request.http.headers["${name}"]`);

// pino.stdTimeFunctions.isoTime without a Date#toISOString per line (a visible share of a decision's cost):
// the date and time up to the second are formatted once per second, the milliseconds appended.
let lastSecond = Number.NaN;
let secondPrefix = '';

/** `,"time":"<ISO 8601 of epochMs>"`, as pino's isoTime writes it (years 0000-9999). */
export function isoTimeAt(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = `,"time":"${new Date(second * 1000).toISOString().slice(0, 20)}`;
  }
  const ms = epochMs - second * 1000;
  return secondPrefix + (ms < 10 ? '00' : ms < 100 ? '0' : '') + ms + 'Z"';
}

function isoTime(): string {
  return isoTimeAt(Date.now());
}

/**
 * Writes to a pipe of at most this many bytes are atomic (POSIX PIPE_BUF on Linux): processes sharing one
 * stdout (src/workers/) that write whole lines in writes no larger never split one another's lines.
 */
export const ATOMIC_WRITE_BYTES = 4096;

export interface LoggerOptions {
  /** Other processes write to the same stdout: every write holds whole lines and, where it can, at most ATOMIC_WRITE_BYTES. */
  sharedStdout?: boolean;
}

export function createLogger(level: Level, destination?: DestinationStream, options: LoggerOptions = {}): Logger {
  // Asynchronous writes keep the Check path off the stdout syscall; flushLogger() drains on shutdown.
  const stream =
    destination ??
    (options.sharedStdout
      ? // SonicBoom joins queued writes up to maxWrite: at the atomic size, it never joins two batches past it.
        new LineBatch(pino.destination({ dest: 1, sync: false, maxWrite: ATOMIC_WRITE_BYTES }), { writeBytes: ATOMIC_WRITE_BYTES })
      : new LineBatch(pino.destination({ dest: 1, sync: false })));
  return pino(
    {
      name: 'meshwarden',
      level,
      base: undefined,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: isoTime,
    },
    stream,
  );
}

/** The part of pino's SonicBoom destination that LineBatch uses. */
export interface BatchTarget {
  write(data: string): unknown;
  flush(callback: (error?: Error) => void): void;
  flushSync(): void;
}

export interface LineBatchOptions {
  /** Hand the target whole lines in writes of at most this many bytes (a longer line alone). */
  writeBytes?: number;
  /** The longest a line waits before it is handed over (DEFAULT_WINDOW_MS). */
  windowMs?: number;
}

/**
 * How long a decision line may wait for others before they go to SonicBoom together. Every SonicBoom write
 * is an fs.write on libuv's thread pool: a hand-off to a pool thread and a wake-up of the event loop when it
 * is done, which on one core cost more than formatting the line (issue 12's profile: per event-loop turn, as
 * this batch did before, 20-40 µs of CPU per Check at 2,000 checks/s). Over a few milliseconds the hand-offs
 * are shared by every Check of the window. The lines are all written, in order; they only reach stdout up
 * to this much later.
 */
export const DEFAULT_WINDOW_MS = 5;

/** A window's lines go at once when they reach this many characters (a burst is not held in memory). */
const FLUSH_AT_CHARACTERS = 64 * 1024;

/**
 * Hands pino's SonicBoom the lines of a few milliseconds (DEFAULT_WINDOW_MS) as one string. SonicBoom appends
 * every line to its pending string and measures that string's UTF-8 length on each write, which flattens it:
 * while a write is in flight, each line copied everything queued before it (kilobytes per decision under
 * load). Here a line costs an array push; the window's lines are joined once, in order.
 */
export class LineBatch implements DestinationStream {
  private lines: string[] = [];
  private characters = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly writeBytes: number | undefined;
  private readonly windowMs: number;
  private readonly drain = (): void => {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.lines.length === 0) return;
    if (this.writeBytes !== undefined) return this.drainInChunks(this.writeBytes);
    const text = this.lines.length === 1 ? this.lines[0]! : this.lines.join('');
    this.lines = [];
    this.characters = 0;
    this.target.write(text);
  };

  constructor(
    private readonly target: BatchTarget,
    options: LineBatchOptions = {},
  ) {
    this.writeBytes = options.writeBytes;
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    pendingAtExit.add(this);
    if (pendingAtExit.size === 1) process.once('exit', writeOutAtExit);
  }

  private drainInChunks(limit: number): void {
    const lines = this.lines;
    this.lines = [];
    this.characters = 0;
    let chunk = '';
    let chunkBytes = 0;
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      if (chunkBytes > 0 && chunkBytes + bytes > limit) {
        this.target.write(chunk);
        chunk = '';
        chunkBytes = 0;
      }
      chunk += line;
      chunkBytes += bytes;
    }
    if (chunkBytes > 0) this.target.write(chunk);
  }

  write(line: string): void {
    this.lines.push(line);
    this.characters += line.length;
    if (this.characters >= FLUSH_AT_CHARACTERS) {
      this.drain();
      return;
    }
    if (this.timer === undefined) {
      // Unreferenced: a pending window never keeps the process alive; at exit its lines go out synchronously.
      this.timer = setTimeout(this.drain, this.windowMs);
      this.timer.unref();
    }
  }

  /** pino's logger.flush(): the lines of the window, then whatever SonicBoom still holds. */
  flush(callback: (error?: Error) => void): void {
    this.drain();
    this.target.flush(callback);
  }

  /** At exit no timer fires: the lines go out synchronously. */
  flushSync(): void {
    this.drain();
    this.target.flushSync();
  }
}

const pendingAtExit = new Set<LineBatch>();

function writeOutAtExit(): void {
  for (const batch of pendingAtExit) {
    try {
      batch.flushSync();
    } catch {
      // The destination is closed or not open yet; nothing more can be written.
    }
  }
}

/** Writes out what the logger buffered; call before the process exits. */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.flush(() => resolve());
  });
}
