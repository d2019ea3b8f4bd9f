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
import { performance } from 'node:perf_hooks';
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
  const open = new OpenCalls(options);
  return (method, call) => (method.path === options.path ? new TimeBoundCall(call, open) : new grpc.ServerInterceptingCall(call));
}

/**
 * The calls not answered yet, oldest first. Every call has the same bound, so they expire in the order they
 * started: a list with removal in place, and one timer for the oldest, replace a timer per call (the list
 * holds no call after its answer, so what it keeps is bounded by the calls open at once).
 */
class OpenCalls {
  #oldest: TimeBoundCall | undefined;
  #newest: TimeBoundCall | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  readonly #expire = (): void => this.expireDue();

  constructor(readonly options: CallTimeBoundOptions) {}

  add(call: TimeBoundCall): void {
    call.expiresAt = performance.now() + this.options.timeoutMs;
    call.older = this.#newest;
    call.newer = undefined;
    if (this.#newest === undefined) this.#oldest = call;
    else this.#newest.newer = call;
    this.#newest = call;
    if (this.#timer === undefined) this.#arm(call.expiresAt);
  }

  remove(call: TimeBoundCall): void {
    const { older, newer } = call;
    if (older === undefined) {
      if (this.#oldest !== call) return; // not in the list (never added, or removed already)
      this.#oldest = newer;
    } else {
      older.newer = newer;
    }
    if (newer === undefined) this.#newest = older;
    else newer.older = older;
    call.older = undefined;
    call.newer = undefined;
  }

  /** Ends every call past its bound; the timer then waits for the oldest left (it is never earlier than due). */
  expireDue(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    let call = this.#oldest;
    while (call !== undefined && call.expiresAt <= now) {
      this.remove(call);
      call.expire();
      call = this.#oldest;
    }
    if (call !== undefined) this.#arm(call.expiresAt);
  }

  #arm(at: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    // +1: timers may fire a little early against performance.now(); a call is never ended before its bound.
    this.#timer = setTimeout(this.#expire, Math.max(0, at - performance.now()) + 1);
    this.#timer.unref();
  }
}

/** What grpc-js hands a call's start (its InterceptingServerListener, not exported by name). */
type CallListener = Parameters<grpc.ServerInterceptingCallInterface['start']>[0];
type CallStatus = Parameters<grpc.ServerInterceptingCallInterface['sendStatus']>[0];

/**
 * A Check call under the bound. It passes everything straight to the call grpc-js made (rather than through
 * grpc-js's ServerInterceptingCall, whose listener and responder chains cost several µs a call on the Check
 * path); it only keeps the state the bound needs. It extends ServerInterceptingCall for its type: grpc-js
 * calls only the methods of ServerInterceptingCallInterface, all of which are overridden here.
 */
class TimeBoundCall extends grpc.ServerInterceptingCall {
  // 'open' until the handler answers or the bound is reached; whichever comes first sends the answer.
  state: 'open' | 'answered' | 'timed_out' = 'open';
  cancelled = false;
  expiresAt = 0;
  older: TimeBoundCall | undefined;
  newer: TimeBoundCall | undefined;

  constructor(
    private readonly base: grpc.ServerInterceptingCallInterface,
    private readonly open: OpenCalls,
  ) {
    super(base);
  }

  override start(listener: CallListener): void {
    // The bound starts with the call's headers: it covers a message that never completes.
    this.open.add(this);
    // Nothing reaches the handler once the call is cancelled (as ServerInterceptingCall's listener does).
    this.base.start({
      onReceiveMetadata: (metadata) => {
        if (!this.cancelled) listener.onReceiveMetadata(metadata);
      },
      onReceiveMessage: (message) => {
        if (!this.cancelled) listener.onReceiveMessage(message);
      },
      onReceiveHalfClose: () => {
        if (!this.cancelled) listener.onReceiveHalfClose();
      },
      onCancel: () => {
        this.cancelled = true;
        this.open.remove(this);
        listener.onCancel();
      },
    });
  }

  override sendMetadata(metadata: grpc.Metadata): void {
    if (this.state !== 'timed_out') this.base.sendMetadata(metadata);
  }

  override sendMessage(message: unknown, callback: () => void): void {
    if (this.state === 'timed_out') return;
    this.answered();
    this.base.sendMessage(message, callback);
  }

  override sendStatus(status: CallStatus): void {
    if (this.state === 'timed_out') return;
    this.answered();
    this.base.sendStatus(status);
  }

  override startRead(): void {
    this.base.startRead();
  }

  override getPeer(): string {
    return this.base.getPeer();
  }

  override getDeadline(): grpc.Deadline {
    return this.base.getDeadline();
  }

  override getHost(): string {
    return this.base.getHost();
  }

  override getAuthContext(): ReturnType<grpc.ServerInterceptingCallInterface['getAuthContext']> {
    return this.base.getAuthContext();
  }

  override getConnectionInfo(): ReturnType<grpc.ServerInterceptingCallInterface['getConnectionInfo']> {
    return this.base.getConnectionInfo();
  }

  override getMetricsRecorder(): ReturnType<grpc.ServerInterceptingCallInterface['getMetricsRecorder']> {
    return this.base.getMetricsRecorder();
  }

  /** The bound was reached first: the deny goes out, and whatever the handler sends later is dropped. */
  expire(): void {
    if (this.state !== 'open' || this.cancelled) return;
    this.state = 'timed_out';
    const { timeoutAnswer, onTimeout } = this.open.options;
    const decisionId = randomUUID();
    onTimeout(decisionId);
    this.base.sendMessage(timeoutAnswer(decisionId), () => {
      this.base.sendStatus({ code: grpc.status.OK, details: 'OK' });
      resetAfterAnswer(this.base);
    });
  }

  private answered(): void {
    if (this.state === 'open') {
      this.state = 'answered';
      this.open.remove(this);
    }
  }
}
