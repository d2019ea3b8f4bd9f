// The grpc-js server: Authorization, health and reflection; bind; graceful shutdown.
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { createCheckHandler, type CheckContext } from '../check/check.js';
import { createCheckCodec, type DecodedCheckRequest } from '../envoy/codec.js';
import { formatAddress, type Address } from '../config.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DecisionMetrics } from '../metrics.js';
import { AUTHORIZATION_SERVICE, CHECK_METHOD_PATH, loadEnvoyApi } from '../envoy/protos.js';
import { addReflection } from '../envoy/reflection.js';
import type { CheckResponse, TemplatedResponse } from '../check/response.js';

export interface ServerOptions {
  address: Address;
  maxRequestBytes: number;
  context: CheckContext;
  logger: Logger;
  metrics: DecisionMetrics;
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
  const codec = createCheckCodec(api, options.maxRequestBytes, (error) =>
    options.logger.error({ error: describeError(error) }, 'a CheckResponse could not be encoded; an internal_error deny was sent instead'),
  );
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
  server.addService(authorization, {
    Check: createCheckHandler({ context: options.context, logger: options.logger, metrics: options.metrics }),
  });

  const health = new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((name) => [name, 'NOT_SERVING'])));
  health.addToServer(server);
  addReflection(server, api.packageDefinition);

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
