// grpc.health.v1: SERVING once a policy is loaded, NOT_SERVING while draining.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let health: any;

beforeAll(async () => {
  server = await startTestServer();
  const protoDir = join(dirname(createRequire(import.meta.url).resolve('grpc-health-check/package.json')), 'proto');
  const definition = protoLoader.loadSync('health/v1/health.proto', { includeDirs: [protoDir], enums: String });
  const Health = (grpc.loadPackageDefinition(definition) as any).grpc.health.v1.Health;
  health = new Health(server.address, grpc.credentials.createInsecure());
});

afterAll(async () => {
  health.close();
  await server.stop();
});

function status(service: string): Promise<string> {
  return new Promise((resolve, reject) => {
    health.Check({ service }, (error: Error | null, response: { status: string }) => (error ? reject(error) : resolve(response.status)));
  });
}

it('reports SERVING for the server and the Authorization service once the policy is loaded', async () => {
  expect(await status('')).toBe('SERVING');
  expect(await status('envoy.service.auth.v3.Authorization')).toBe('SERVING');
});

it('reports NOT_SERVING while draining', async () => {
  server.serving.server.setServing(false);
  expect(await status('')).toBe('NOT_SERVING');
  expect(await status('envoy.service.auth.v3.Authorization')).toBe('NOT_SERVING');
  server.serving.server.setServing(true);
});
