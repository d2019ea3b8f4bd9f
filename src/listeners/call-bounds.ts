// A grpc-js server interceptor that ends every Check call early with a deny CheckResponse when it reaches one
// of two bounds: its time (--call-timeout-ms) or, from its message's 5-byte prefix, the process's buffer
// budget (--max-buffered-bytes, listeners/buffer-budget.ts), before any of the message is held.
//
// grpc-js only times a call out when the caller sends grpc-timeout; without it, a client that sends half
// a message and stalls holds the stream (and the bytes received so far) forever. The interceptor starts
// when the call's headers arrive, so it also covers a message that never completes, which no handler
// ever sees. It answers with a deny rather than cancelling the stream: a cancel is an RPC error, which
// Envoy lets through under failure_mode_allow; a deny CheckResponse is a deny under every setting.
// A caller's shorter grpc-timeout still wins (grpc-js ends the call with DEADLINE_EXCEEDED then: the
// caller has given up and no answer reaches it anyway).
import { randomUUID } from 'node:crypto';
import { constants as http2 } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { BufferBudget } from './buffer-budget.js';
import { MessageSizeReader } from './grpc-message-sizes.js';

/** What the bounds need of grpc-js's HTTP/2 stream: its bytes as they arrive, a pause and a reset. */
interface CallStream {
  readonly closed: boolean;
  close(code: number): void;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
  pause(): unknown;
}

// How long the answer has to reach the client before its stream is reset. Resetting at once could overtake
// the trailers (RST_STREAM may leave before them); a client that reads its answer and ends its side in
// time closes the stream itself and is never reset.
const RESET_AFTER_MS = 500;

/**
 * The HTTP/2 stream under the call, where grpc-js 1.14 keeps it: in the base call (the one our interceptor,
 * the only one, receives), as a private field. The guard checks its shape; should grpc-js move it, the
 * call is still answered, and its stream lasts until the client ends it or the connection goes.
 */
function streamOf(call: unknown): CallStream | undefined {
  const stream = (call as { stream?: unknown }).stream;
  if (typeof stream !== 'object' || stream === null) return undefined;
  const candidate = stream as Partial<CallStream>;
  const usable = typeof candidate.close === 'function' && typeof candidate.closed === 'boolean' && typeof candidate.on === 'function' && typeof candidate.pause === 'function';
  return usable ? (stream as CallStream) : undefined;
}

/**
 * Stops taking in the request at once and resets the stream a little after the answer. grpc-js keeps a stream,
 * and every byte of a half-received message with it, until the client ends its side: a client that stalls
 * mid-message would keep holding them after its deny, and one that keeps sending would add to them until
 * the reset (paused, the stream takes in no more than its HTTP/2 window). RST_STREAM NO_ERROR is how HTTP/2
 * tells a client the rest of its request is not wanted.
 */
function resetAfterAnswer(stream: CallStream | undefined): void {
  if (stream === undefined || stream.closed) return;
  stream.pause();
  setTimeout(() => {
    if (!stream.closed) stream.close(http2.NGHTTP2_NO_ERROR);
  }, RESET_AFTER_MS).unref();
}

export interface CallBoundsOptions {
  /** The method bounded (the Check path); other methods (health Watch, reflection) pass untouched. */
  path: string;
  timeoutMs: number;
  /** The answer sent when the time bound is reached, already in the form the method's serializer takes. */
  timeoutAnswer(decisionId: string): unknown;
  /** Hears each call that reached the time bound (for the log). */
  onTimeout(decisionId: string): void;
  /** The bytes all unfinished messages may hold together; a message is reserved at its declared size. */
  budget: BufferBudget;
  /** A declared size is reserved up to this (grpc-js refuses larger messages from their prefix itself). */
  maxMessageBytes: number;
  /** The answer sent to a call whose message the budget has no room for. */
  budgetAnswer(decisionId: string): unknown;
  /** Hears each call refused by the budget (for the log). */
  onBudgetExceeded(decisionId: string, declaredBytes: number): void;
}

export function callBounds(options: CallBoundsOptions): grpc.ServerInterceptor {
  const { path, timeoutMs, timeoutAnswer, onTimeout, budget, maxMessageBytes, budgetAnswer, onBudgetExceeded } = options;
  return (method, call) => {
    if (method.path !== path) return new grpc.ServerInterceptingCall(call);
    // 'open' until the handler answers or a bound is reached; whichever comes first sends the answer.
    let state: 'open' | 'answered' | 'ended_early' = 'open';
    let timer: NodeJS.Timeout | undefined;
    const stream = streamOf(call);
    const endEarly = (answer: (decisionId: string) => unknown, onEnded: (decisionId: string) => void): void => {
      state = 'ended_early';
      clearTimeout(timer);
      const decisionId = randomUUID();
      onEnded(decisionId);
      call.sendMessage(answer(decisionId), () => {
        call.sendStatus({ code: grpc.status.OK, details: 'OK' });
        resetAfterAnswer(stream);
      });
    };
    const expire = (): void => {
      if (state === 'open') endEarly(timeoutAnswer, onTimeout);
    };
    // Each message is reserved at its declared size when its prefix arrives, and released when the stream
    // closes; grpc-js sees the same bytes (a second 'data' listener takes nothing from it). Should grpc-js
    // stop exposing the stream, calls go unbudgeted but still answered and time-bound.
    const watchBytes = (): void => {
      if (stream === undefined) return;
      const sizes = new MessageSizeReader();
      let reserved = 0;
      const reserve = (declared: number): void => {
        if (state !== 'open') return;
        const bytes = Math.min(declared, maxMessageBytes);
        if (budget.tryReserve(bytes)) reserved += bytes;
        else endEarly(budgetAnswer, (decisionId) => onBudgetExceeded(decisionId, declared));
      };
      stream.on('data', (chunk) => {
        if (state === 'open') sizes.read(chunk, reserve);
      });
      stream.once('close', () => {
        budget.release(reserved);
        reserved = 0;
      });
    };
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        timer = setTimeout(expire, timeoutMs);
        timer.unref();
        watchBytes();
        next({ onCancel: () => clearTimeout(timer) });
      },
      sendMessage(message, next) {
        if (state === 'ended_early') return;
        state = 'answered';
        clearTimeout(timer);
        next(message);
      },
      sendStatus(status, next) {
        if (state === 'ended_early') return;
        state = 'answered';
        clearTimeout(timer);
        next(status);
      },
    });
  };
}
