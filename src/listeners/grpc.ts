// The grpc-js server: Authorization (through the one entrance, check/answer.ts), health and reflection, on
// connections we accept ourselves (capped, each tracked); drain and a shutdown that always ends.
import { createServer, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { bufferBudgetResponse, callTimeoutResponse, internalErrorResponse, type AnswerCheck, type CheckOutcome, type RefuseCheck } from '../check/answer.js';
import { createCheckCodec, type DecodedCheckRequest } from '../envoy/codec.js';
import { AUTHORIZATION_SERVICE, CHECK_METHOD_PATH, loadEnvoyApi } from '../envoy/protos.js';
import { addReflection } from '../envoy/reflection.js';
import type { CheckResponse, TemplatedResponse } from '../envoy/types.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TlsSource } from '../tls/source.js';
import { listen, type Address } from './address.js';
import type { BufferBudget } from './buffer-budget.js';
import { callBounds } from './call-bounds.js';
import { capConnections } from './connection-cap.js';
import type { ConnectionSource } from './connection-source.js';
import { serverCredentialsFor } from './grpc-tls.js';

export interface ServerOptions {
  address: Address;
  maxRequestBytes: number;
  answer: AnswerCheck;
  /** Under mutual TLS, records a Check whose caller the allow-list refuses and gives its deny (else UNAUTHENTICATED). */
  refuseCheck?: RefuseCheck | undefined;
  logger: Logger;
  /** Register gRPC server reflection (opa-envoy-plugin's enable-reflection); on unless turned off. */
  reflection?: boolean;
  /** TLS (and mutual TLS with its SPIFFE allow-list) from --tls-*; plaintext when undefined. */
  tls?: TlsSource | undefined;
  /** Connections beyond this many are closed as they arrive. */
  maxConnections: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: calls one connection may have open at once. */
  maxStreamsPerConnection: number;
  /** The longest a Check call may take (a caller's grpc-timeout can only shorten it); then a call_timeout deny. */
  callTimeoutMs: number;
  /** A connection without calls for this long is sent GOAWAY. */
  idleTimeoutMs: number;
  /** Connections handed over by a primary (a worker of --workers N) instead of binding `address`. */
  connections?: ConnectionSource | undefined;
  /** The bytes unfinished requests may hold together, shared with the HTTP listener; a message past it is denied. */
  budget: BufferBudget;
}

export interface RunningServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** Marks the service SERVING (a policy is loaded) or NOT_SERVING; health Watch streams see the change. */
  setServing(serving: boolean): void;
  /**
   * Stops accepting connections, sends GOAWAY (no new calls), lets in-flight calls finish for up to
   * graceMs, then destroys every connection still open (a stalled call, a health Watch stream).
   */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * grpc-js's own receive limit: an oversize CheckRequest up to this size (raw, or after gzip/deflate)
 * reaches our deserializer and is denied with a CheckResponse (request_too_large); a transport
 * RESOURCE_EXHAUSTED would be an RPC error, which fails open under failOpen. Beyond it grpc-js refuses the
 * message from its 5-byte length prefix (or stops inflating), so nothing larger is ever held in memory:
 * the limit is also what one stalled half-message can cost.
 */
export function transportLimitBytes(maxRequestBytes: number): number {
  return maxRequestBytes * 2 + 16 * 1024 * 1024;
}

const HEALTH_SERVICES = ['', AUTHORIZATION_SERVICE];

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const api = loadEnvoyApi();
  const codec = createCheckCodec(api, {
    maxRequestBytes: options.maxRequestBytes,
    fallbackResponse: internalErrorResponse,
    onEncodeFailure: (error) => options.logger.error({ error: describeError(error) }, 'a CheckResponse could not be encoded; an internal_error deny was sent instead'),
  });
  const server = new grpc.Server({
    'grpc.max_receive_message_length': transportLimitBytes(options.maxRequestBytes),
    'grpc.max_send_message_length': -1,
    // meshwarden serves no channelz service; its per-call bookkeeping would be pure cost on the Check path.
    // (Without channelz, grpc-js's forceShutdown does not destroy sessions: its list of them is channelz
    // bookkeeping. We hold the sockets ourselves instead, below.)
    'grpc.enable_channelz': 0,
    'grpc.max_concurrent_streams': options.maxStreamsPerConnection,
    'grpc.max_connection_idle_ms': options.idleTimeoutMs,
    interceptors: [
      callBounds({
        path: CHECK_METHOD_PATH,
        timeoutMs: options.callTimeoutMs,
        timeoutAnswer: callTimeoutResponse,
        onTimeout: (decisionId) =>
          options.logger.warn({ decision_id: decisionId, reason: 'call_timeout', timeout_ms: options.callTimeoutMs }, 'a Check did not end within the call time bound; denied'),
        budget: options.budget,
        maxMessageBytes: transportLimitBytes(options.maxRequestBytes),
        budgetAnswer: bufferBudgetResponse,
        onBudgetExceeded: (decisionId, declaredBytes) =>
          options.logger.warn(
            { decision_id: decisionId, reason: 'buffer_budget_exceeded', declared_bytes: declaredBytes, held_bytes: options.budget.heldBytes, max_buffered_bytes: options.budget.maxBytes },
            'a Check message did not fit in the buffer budget; denied',
          ),
      }),
    ],
  });

  const authorization: grpc.ServiceDefinition = {
    Check: {
      path: CHECK_METHOD_PATH,
      requestStream: false,
      responseStream: false,
      originalName: 'check',
      requestSerialize: (value: Buffer) => value,
      requestDeserialize: (buffer: Buffer): DecodedCheckRequest => codec.decode(buffer),
      responseSerialize: (response: CheckResponse | TemplatedResponse): Buffer => codec.encode(response),
      responseDeserialize: (buffer: Buffer) => buffer,
    } as grpc.MethodDefinition<unknown, unknown>,
  };
  const { answer } = options;
  server.addService(authorization, {
    // grpc-js never awaits a handler: the entrance calls `send` exactly once, now or when a token is verified.
    Check(call: grpc.ServerUnaryCall<DecodedCheckRequest, AnswerBody>, callback: grpc.sendUnaryData<AnswerBody>): void {
      answer(call.request, call.getDeadline(), (outcome) => callback(null, answerBody(outcome)));
    },
  });

  const health = new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((name) => [name, 'NOT_SERVING'])));
  health.addToServer(server);
  if (options.reflection !== false) addReflection(server, api.packageDefinition);

  routeGrpcLogs(options.logger);
  // We accept connections ourselves and hand them to grpc-js (its documented connection injector): so
  // the listener can refuse connections beyond the cap (net.Server.maxConnections), and shutdown can
  // destroy every socket, whatever grpc-js still waits for.
  const credentials = options.tls === undefined ? grpc.ServerCredentials.createInsecure() : serverCredentialsFor(options.tls, options.logger, options.refuseCheck);
  // With TLS the injected sockets are plain TCP: grpc-js's secure HTTP/2 server does the handshake on them.
  const injector = server.createConnectionInjector(credentials);
  const sockets = new Set<Socket>();
  const listener = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    injector.injectConnection(socket);
  });
  capConnections(listener, options.maxConnections, 'grpc', options.logger);
  const port = options.connections === undefined ? await listen(listener, options.address, 'gRPC') : options.connections.attach('grpc', listener, options.maxConnections);

  const setServing = (serving: boolean): void => {
    for (const name of HEALTH_SERVICES) health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING');
  };

  return {
    port,
    setServing,
    async shutdown(graceMs: number): Promise<void> {
      setServing(false);
      listener.close();
      // GOAWAY on every session: open calls go on, new ones go to another server.
      injector.drain(graceMs);
      const ended = await waitUntil(() => sockets.size === 0, graceMs);
      if (!ended) options.logger.warn({ grace_ms: graceMs, connections: sockets.size }, 'in-flight calls did not finish in time; closing their connections');
      for (const socket of sockets) socket.destroy();
      injector.destroy();
      server.forceShutdown();
    },
  };
}

/**
 * grpc-js writes its own errors to stderr (a failed bind adds "E No address added out of total 1 resolved" before
 * meshwarden's one line). They go to the structured log at debug level instead; what matters reaches the
 * caller as our own error or log line.
 */
function routeGrpcLogs(logger: Logger): void {
  const write = (...args: unknown[]): void => logger.debug({ grpc_js: args.map((arg) => (typeof arg === 'string' ? arg : describeError(arg))).join(' ') }, 'grpc-js');
  grpc.setLogger({ error: write, warn: write, info: write, debug: write } as unknown as Partial<Console>);
}

type AnswerBody = CheckResponse | TemplatedResponse;

/** Resolves true once `condition` holds, false when `timeoutMs` passes first (polled: sockets emit no "all closed"). */
async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(20, Math.max(1, until - Date.now()))));
  }
  return true;
}

/** The template and the decision id, when the decision has one: the codec encodes a decision's response once. */
function answerBody(outcome: CheckOutcome): AnswerBody {
  return outcome.template === undefined ? outcome.response : { template: outcome.template, decisionId: outcome.decisionId };
}

