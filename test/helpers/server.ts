// A real meshwarden server on 127.0.0.1 (port 0), with its log lines captured, plus a grpc-js client that
// encodes and decodes with its own copy of Envoy's upstream protos (not the server's codec).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createLogger } from '../../src/logger.js';
import { serve, type Serving } from '../../src/commands/serve.js';
import { AUTHORIZATION_PROTO, envoyProtoDirs } from '../../src/envoy/protos.js';

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface TestServer {
  serving: Serving;
  address: string;
  client: AuthorizationClient;
  logs: LogLine[];
  stop(): Promise<void>;
}

/** CheckResponse as proto-loader decodes it (enums as names, defaults omitted). */
export type CheckResponseObject = Record<string, any>;

export interface AuthorizationClient {
  check(request: unknown, options?: { deadlineMs?: number }): Promise<CheckResponseObject>;
  close(): void;
}

let clientDefinition: protoLoader.PackageDefinition | undefined;

export function upstreamDefinition(): protoLoader.PackageDefinition {
  clientDefinition ??= protoLoader.loadSync(AUTHORIZATION_PROTO, {
    keepCase: false,
    longs: String,
    enums: String,
    bytes: String,
    defaults: false,
    oneofs: false,
    includeDirs: envoyProtoDirs(),
  });
  return clientDefinition;
}

/** `ownConnection`: a connection of its own (grpc-js otherwise shares one between clients of one address). */
export function createClient(address: string, options: { ownConnection?: boolean } = {}): AuthorizationClient {
  const loaded = grpc.loadPackageDefinition(upstreamDefinition()) as any;
  const Client = loaded.envoy.service.auth.v3.Authorization as grpc.ServiceClientConstructor;
  const client = new Client(address, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': -1,
    ...(options.ownConnection === true ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
  }) as any;
  return {
    check(request: unknown, options: { deadlineMs?: number } = {}): Promise<CheckResponseObject> {
      return new Promise((resolve, reject) => {
        client.Check(request, { deadline: Date.now() + (options.deadlineMs ?? 10_000) }, (error: grpc.ServiceError | null, response: CheckResponseObject) => {
          if (error) reject(error);
          else resolve(response);
        });
      });
    },
    close: () => client.close(),
  };
}

export async function startTestServer(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<TestServer> {
  const logs: LogLine[] = [];
  const logger = createLogger(
    (args.includes('--log-level') ? args[args.indexOf('--log-level') + 1] : 'info') as 'info',
    { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) },
  );
  // No drain window unless a test asks for one: stop() would otherwise wait it out in every test.
  const drain = args.includes('--drain-ms') ? [] : ['--drain-ms', '0'];
  const serving = await serve(['--grpc-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', ...drain, ...args], env, logger);
  const address = `127.0.0.1:${serving.server.port}`;
  const client = createClient(address);
  return {
    serving,
    address,
    client,
    logs,
    async stop() {
      client.close();
      await serving.stop();
    },
  };
}

/** A CheckRequest as Envoy sends it for an HTTP request, in proto-loader's object form. */
export function httpCheckRequest(options: {
  source?: string;
  destination?: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  rawBody?: string;
}): Record<string, unknown> {
  const method = options.method ?? 'GET';
  const path = options.path ?? '/';
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: '10.0.1.17', portValue: 41234 } },
        ...(options.source === undefined ? {} : { principal: options.source }),
      },
      destination: {
        address: { socketAddress: { address: '10.0.2.5', portValue: 8080 } },
        ...(options.destination === undefined ? {} : { principal: options.destination }),
      },
      request: {
        time: { seconds: 1795858200, nanos: 123456000 },
        http: {
          id: '8306245629211637762',
          method,
          path,
          host: 'data.data.svc.cluster.local:8080',
          scheme: 'http',
          protocol: 'HTTP/1.1',
          headers: { ':authority': 'data.data.svc.cluster.local:8080', ':method': method, ':path': path, ...options.headers },
          ...(options.body === undefined ? {} : { body: options.body }),
          ...(options.rawBody === undefined ? {} : { rawBody: options.rawBody }),
        },
      },
    },
  };
}

export const ANALYTICS = 'spiffe://cluster.local/ns/analytics/sa/analytics';
export const DATA_SERVICE = 'spiffe://cluster.local/ns/data/sa/data';
