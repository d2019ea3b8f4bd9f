// The grpc-js server: Authorization (through the one entrance, check/answer.ts), health and reflection; bind;
// graceful shutdown.
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { internalErrorResponse, type AnswerCheck, type CheckOutcome } from '../check/answer.js';
import { createCheckCodec, type DecodedCheckRequest } from '../envoy/codec.js';
import { AUTHORIZATION_SERVICE, CHECK_METHOD_PATH, loadEnvoyApi } from '../envoy/protos.js';
import { addReflection } from '../envoy/reflection.js';
import type { CheckResponse, TemplatedResponse } from '../envoy/types.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { formatAddress, type Address } from './address.js';

export interface ServerOptions {
  address: Address;
  maxRequestBytes: number;
  answer: AnswerCheck;
  logger: Logger;
  /** Register gRPC server reflection (opa-envoy-plugin's enable-reflection); on unless turned off. */
  reflection?: boolean;
}

export interface RunningServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** Marks the service SERVING (a policy is loaded) or NOT_SERVING. */
  setServing(serving: boolean): void;
  /** Stops accepting calls, lets in-flight calls finish (up to graceMs), then closes. */
  shutdown(graceMs: number): Promise<void>;
}

const HEALTH_SERVICES = ['', AUTHORIZATION_SERVICE];

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const api = loadEnvoyApi();
  const codec = createCheckCodec(api, {
    maxRequestBytes: options.maxRequestBytes,
    fallbackResponse: internalErrorResponse,
    onEncodeFailure: (error) => options.logger.error({ error: describeError(error) }, 'a CheckResponse could not be encoded; an internal_error deny was sent instead'),
  });
  // grpc-js's own limit sits well above ours, so an oversize request reaches the handler and is denied
  // with a CheckResponse; a transport RESOURCE_EXHAUSTED would be an error, which fails open under failOpen.
  const transportLimit = options.maxRequestBytes * 2 + 16 * 1024 * 1024;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': transportLimit,
    'grpc.max_send_message_length': -1,
    // meshwarden serves no channelz service; its per-call bookkeeping would be pure cost on the Check path.
    'grpc.enable_channelz': 0,
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

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(formatAddress(options.address), grpc.ServerCredentials.createInsecure(), (error, bound) => {
      if (error) reject(error);
      else resolve(bound);
    });
  });

  const setServing = (serving: boolean): void => {
    for (const name of HEALTH_SERVICES) health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING');
  };

  return {
    port,
    setServing,
    shutdown(graceMs: number): Promise<void> {
      setServing(false);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          options.logger.warn({ grace_ms: graceMs }, 'in-flight calls did not finish in time; closing them');
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

type AnswerBody = CheckResponse | TemplatedResponse;

/** The template and the decision id, when the decision has one: the codec encodes a decision's response once. */
function answerBody(outcome: CheckOutcome): AnswerBody {
  return outcome.template === undefined ? outcome.response : { template: outcome.template, decisionId: outcome.decisionId };
}

