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
import * as grpc from '@grpc/grpc-js';

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
      call.sendMessage(timeoutAnswer(decisionId), () => call.sendStatus({ code: grpc.status.OK, details: 'OK' }));
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
