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
import { performance } from 'node:perf_hooks';
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
export function resetAfterAnswer(call: unknown): void {
  const stream = streamOf(call);
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
  const open = new OpenCalls(options);
  return (method, call) => (method.path === options.path ? new BoundedCall(call, open) : new grpc.ServerInterceptingCall(call));
}

/**
 * The calls not answered yet, oldest first. Every call has the same bound, so they expire in the order they
 * started: a list with removal in place, and one timer for the oldest, replace a timer per call (the list
 * holds no call after its answer, so what it keeps is bounded by the calls open at once).
 */
class OpenCalls {
  #oldest: BoundedCall | undefined;
  #newest: BoundedCall | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  readonly #expire = (): void => this.expireDue();

  constructor(readonly options: CallBoundsOptions) {}

  add(call: BoundedCall): void {
    call.expiresAt = performance.now() + this.options.timeoutMs;
    call.older = this.#newest;
    call.newer = undefined;
    if (this.#newest === undefined) this.#oldest = call;
    else this.#newest.newer = call;
    this.#newest = call;
    if (this.#timer === undefined) this.#arm(call.expiresAt);
  }

  remove(call: BoundedCall): void {
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
class BoundedCall extends grpc.ServerInterceptingCall {
  // 'open' until the handler answers or a bound is reached; whichever comes first sends the answer.
  state: 'open' | 'answered' | 'ended_early' = 'open';
  cancelled = false;
  expiresAt = 0;
  older: BoundedCall | undefined;
  newer: BoundedCall | undefined;

  constructor(
    private readonly base: grpc.ServerInterceptingCallInterface,
    private readonly open: OpenCalls,
  ) {
    super(base);
  }

  override start(listener: CallListener): void {
    // The bound starts with the call's headers: it covers a message that never completes.
    this.open.add(this);
    this.watchBytes();
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
    if (this.state !== 'ended_early') this.base.sendMetadata(metadata);
  }

  override sendMessage(message: unknown, callback: () => void): void {
    if (this.state === 'ended_early') return;
    this.answered();
    this.base.sendMessage(message, callback);
  }

  override sendStatus(status: CallStatus): void {
    if (this.state === 'ended_early') return;
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

  /** The time bound was reached first: the deny goes out, and whatever the handler sends later is dropped. */
  expire(): void {
    const { timeoutAnswer, onTimeout } = this.open.options;
    this.endEarly(timeoutAnswer, onTimeout);
  }

  /**
   * Each message is reserved at its declared size when its prefix arrives, and released when the stream
   * closes; grpc-js sees the same bytes (a second 'data' listener takes nothing from it). Should grpc-js stop
   * exposing the stream, calls go unbudgeted but still answered and time-bound.
   */
  private watchBytes(): void {
    const stream = streamOf(this.base);
    if (stream === undefined) return;
    const { budget, maxMessageBytes, budgetAnswer, onBudgetExceeded } = this.open.options;
    const sizes = new MessageSizeReader();
    let reserved = 0;
    const reserve = (declared: number): void => {
      if (this.state !== 'open') return;
      const bytes = Math.min(declared, maxMessageBytes);
      if (budget.tryReserve(bytes)) reserved += bytes;
      else this.endEarly(budgetAnswer, (decisionId) => onBudgetExceeded(decisionId, declared));
    };
    stream.on('data', (chunk) => {
      if (this.state === 'open') sizes.read(chunk, reserve);
    });
    stream.once('close', () => {
      budget.release(reserved);
      reserved = 0;
    });
  }

  /** A bound was reached first: its deny goes out, and whatever the handler sends later is dropped. */
  private endEarly(answer: (decisionId: string) => unknown, onEnded: (decisionId: string) => void): void {
    if (this.state !== 'open' || this.cancelled) return;
    this.state = 'ended_early';
    this.open.remove(this);
    const decisionId = randomUUID();
    onEnded(decisionId);
    this.base.sendMessage(answer(decisionId), () => {
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
