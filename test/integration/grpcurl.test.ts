// grpcurl as the client: reflection only (no proto files), the README walkthrough's requests and answers.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ROOT, toolPath } from '../helpers/tools.js';

const run = promisify(execFile);
let server: TestServer;
let grpcurl: string;

beforeAll(async () => {
  grpcurl = toolPath('grpcurl');
  server = await startTestServer();
});

afterAll(async () => {
  await server.stop();
});

async function grpcurlJson(args: string[], input?: string): Promise<any> {
  const child = execFile(grpcurl, ['-plaintext', ...args]);
  const output = new Promise<string>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`grpcurl exited ${code}: ${stderr}`))));
  });
  child.stdin!.end(input ?? '');
  return JSON.parse(await output);
}

function check(file: string): Promise<any> {
  const request = readFileSync(join(ROOT, 'examples', 'requests', file), 'utf8');
  return grpcurlJson(['-d', '@', server.address, 'envoy.service.auth.v3.Authorization/Check'], request);
}

describe('grpcurl against meshwarden serve (reflection, no proto files)', () => {
  it('lists the Authorization and health services', async () => {
    const { stdout } = await run(grpcurl, ['-plaintext', server.address, 'list']);
    expect(stdout.split('\n')).toEqual(expect.arrayContaining(['envoy.service.auth.v3.Authorization', 'grpc.health.v1.Health']));
  });

  it('describes the Check method with its upstream message types', async () => {
    const { stdout } = await run(grpcurl, ['-plaintext', server.address, 'describe', 'envoy.service.auth.v3.Authorization']);
    expect(stdout).toContain('rpc Check ( .envoy.service.auth.v3.CheckRequest ) returns ( .envoy.service.auth.v3.CheckResponse )');
  });

  it('reports SERVING on grpc.health.v1', async () => {
    expect(await grpcurlJson([server.address, 'grpc.health.v1.Health/Check'])).toEqual({ status: 'SERVING' });
  });

  it('allows examples/requests/analytics-get-data.json by the default rules\' analytics-reads-data', async () => {
    const response = await check('analytics-get-data.json');
    expect(response.status).toEqual({});
    expect(response.deniedResponse).toBeUndefined();
    expect(response.dynamicMetadata).toEqual({ decision_id: expect.stringMatching(/^[0-9a-f-]{36}$/), rule: 'analytics-reads-data', reason: 'allowed_by_rule', shadow_denies: [] });
  });

  it.each([
    'analytics-post-data.json',
    'analytics-get-traversal.json',
    'default-sa-get-data.json',
    'plaintext-spoofed-identity.json',
    'foreign-trust-domain.json',
  ])('denies examples/requests/%s with 403: no rule of the default rules allows it', async (file) => {
    const response = await check(file);
    expect(response.status).toEqual({ code: 7 });
    expect(response.deniedResponse.status).toEqual({ code: 'Forbidden' });
    expect(response.deniedResponse.headers[0].header).toEqual({ key: 'x-ext-authz-reason', value: 'no_allow_rule_matched' });
    expect(response.dynamicMetadata).toMatchObject({ rule: 'default', reason: 'no_allow_rule_matched' });
  });

  it('answers examples/requests/invalid-json-body.json with a 400 deny', async () => {
    const response = await check('invalid-json-body.json');
    expect(response.status).toEqual({ code: 7, message: 'request_parse_error' });
    expect(response.deniedResponse.status).toEqual({ code: 'BadRequest' });
  });

  it('answers examples/requests/empty.json with an explicit deny, not an empty (allowing) response', async () => {
    const response = await check('empty.json');
    expect(response.status).toEqual({ code: 7, message: 'missing_attributes' });
    expect(response.deniedResponse.headers[0].header).toEqual({ key: 'x-ext-authz-reason', value: 'missing_attributes' });
  });
});
