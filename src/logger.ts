// The only pino import: level, redaction, destination.
import { pino, type Logger, type DestinationStream, type Level } from 'pino';

export type { Logger, Level };

export const LOG_LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

// Credentials never reach the log, even at debug level where the whole input is logged.
const REDACTED_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key'];
const REDACT_PATHS = REDACTED_HEADERS.map((name) => `input.attributes.request.http.headers["${name}"]`);

// pino.stdTimeFunctions.isoTime, formatting each millisecond once: under load many lines share one, and
// Date#toISOString was a visible share of a decision's cost.
let lastMs = Number.NaN;
let lastTime = '';
function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

export function createLogger(level: Level, destination?: DestinationStream): Logger {
  // Asynchronous writes keep the Check path off the stdout syscall; flushLogger() drains on shutdown.
  const stream = destination ?? pino.destination({ dest: 1, sync: false });
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

/** Writes out what the logger buffered; call before the process exits. */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.flush(() => resolve());
  });
}
