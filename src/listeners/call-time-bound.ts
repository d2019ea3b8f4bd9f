// A grpc-js server interceptor that ends every Check call within a time bound, with a deny CheckResponse.
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

/** What the reset needs of grpc-js's HTTP/2 stream. */
interface ResettableStream {
  readonly closed: boolean;
  close(code: number): void;
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
function streamOf(call: unknown): ResettableStream | undefined {
  const stream = (call as { stream?: unknown }).stream;
  if (typeof stream !== 'object' || stream === null) return undefined;
  const candidate = stream as Partial<ResettableStream>;
  return typeof candidate.close === 'function' && typeof candidate.closed === 'boolean' ? (stream as ResettableStream) : undefined;
}

/**
 * Resets the stream a little after the answer. grpc-js keeps a stream, and every byte of a half-received
 * message with it, until the client ends its side: a client that stalls mid-message would keep holding
 * them after its deny. RST_STREAM NO_ERROR is how HTTP/2 tells a client the rest of its request is not wanted.
 */
export function resetAfterAnswer(call: unknown): void {
  const stream = streamOf(call);
  if (stream === undefined || stream.closed) return;
  setTimeout(() => {
    if (!stream.closed) stream.close(http2.NGHTTP2_NO_ERROR);
  }, RESET_AFTER_MS).unref();
}

export interface CallTimeBoundOptions {
  /** The method bounded (the Check path); other methods (health Watch, reflection) pass untouched. */
  path: string;
  timeoutMs: number;
  /** The answer sent when the bound is reached, already in the form the method's serializer takes. */
  timeoutAnswer(decisionId: string): unknown;
  /** Hears each call that reached the bound (for the log). */
  onTimeout(decisionId: string): void;
}

export function callTimeBound(options: CallTimeBoundOptions): grpc.ServerInterceptor {
  const { path, timeoutMs, timeoutAnswer, onTimeout } = options;
  return (method, call) => {
    if (method.path !== path) return new grpc.ServerInterceptingCall(call);
    // 'open' until the handler answers or the bound is reached; whichever comes first sends the answer.
    let state: 'open' | 'answered' | 'timed_out' = 'open';
    let timer: NodeJS.Timeout | undefined;
    const expire = (): void => {
      if (state !== 'open') return;
      state = 'timed_out';
      const decisionId = randomUUID();
      onTimeout(decisionId);
      call.sendMessage(timeoutAnswer(decisionId), () => {
        call.sendStatus({ code: grpc.status.OK, details: 'OK' });
        resetAfterAnswer(call);
      });
    };
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        timer = setTimeout(expire, timeoutMs);
        timer.unref();
        next({ onCancel: () => clearTimeout(timer) });
      },
      sendMessage(message, next) {
        if (state === 'timed_out') return;
        state = 'answered';
        clearTimeout(timer);
        next(message);
      },
      sendStatus(status, next) {
        if (state === 'timed_out') return;
        state = 'answered';
        clearTimeout(timer);
        next(status);
      },
    });
  };
}
