// The built command: eval, configuration errors, serve with signals (SIGHUP reload, SIGTERM drain and exit 0).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createSigningKey, signToken, spiffeBundleOf, writeJsonFile, writeTextFile } from '../helpers/jwt.js';
import { compileRego } from '../helpers/policies.js';
import { ANALYTICS, DATA_SERVICE, createClient, httpCheckRequest } from '../helpers/server.js';
import { ROOT } from '../helpers/tools.js';
import { makeTempDir } from '../helpers/temp.js';

const CLI = join(ROOT, 'dist', 'src', 'cli.js');

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Starts `meshwarden serve` on a free port and resolves once it logs "serving". */
async function startServe(args: string[]): Promise<{ child: ChildProcess; address: string; lines: any[] }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--grpc-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--drain-ms', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: any[] = [];
  let buffer = '';
  const address = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const line = JSON.parse(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        if (line.msg === 'serving') resolve(line.address);
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
  });
  return { child, address, lines };
}

/** SIGTERM drains and ends `serve` with exit code 0. */
async function expectCleanExitOnSigterm(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  expect(code).toBe(0);
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('meshwarden eval', () => {
  it('prints the input document, the decision and the CheckResponse for a proto-JSON CheckRequest', async () => {
    const { code, stdout } = await runCli(['eval', '--request', join(ROOT, 'examples/requests/analytics-get-data.json')]);
    expect(code).toBe(0);
    const printed = JSON.parse(stdout);
    expect(printed.allowed).toBe(true);
    expect(printed.reason).toBe('allowed');
    // Without --rules or --bundle: the embedded default rules file with the rules library.
    expect(printed.policy).toMatchObject({ source: join(ROOT, 'policies', 'build', 'rules.tar.gz'), rules: join(ROOT, 'policies', 'default', 'rules.yaml'), decision: 'meshwarden/rules/decision' });
    expect(printed.result).toEqual([
      { result: { allowed: true, dynamic_metadata: { rule: 'analytics-reads-data', reason: 'allowed_by_rule', shadow_denies: [] } } },
    ]);
    // The rules library is given the keys it reads; the default rules name no header, query or context key.
    expect(Object.keys(printed.input).sort()).toEqual(['attributes', 'destination', 'parsed_query', 'source']);
    expect(printed.input.parsed_query).toEqual({});
    expect(printed.input.attributes.request.http.headers).toEqual({ ':authority': 'data.data.svc.cluster.local:8080' });
    expect(printed.input.source).toEqual({ spiffe_id: ANALYTICS, trust_domain: 'cluster.local', namespace: 'analytics', service_account: 'analytics', local: true, authenticated: true, port: 41234 });
    expect(printed.input.attributes.request.http).toMatchObject({ method: 'GET', path: '/api/v1/data?from=2026-11-01' });
    expect(printed.response.status).toEqual({ code: 0 });
    expect(printed.response.dynamicMetadata.decision_id).toHaveLength(36);
    expect(printed.response.dynamicMetadata).toMatchObject({ rule: 'analytics-reads-data', reason: 'allowed_by_rule' });
  });

  it('--full-input prints the whole opa-envoy-plugin document beside the rules library\'s smaller one', async () => {
    const request = join(ROOT, 'examples/requests/analytics-get-data.json');
    const { code, stdout } = await runCli(['eval', '--full-input', '--request', request]);
    expect(code).toBe(0);
    const printed = JSON.parse(stdout);
    expect(Object.keys(printed.input).sort()).toEqual(['attributes', 'destination', 'parsed_query', 'source']);
    expect(Object.keys(printed.full_input).sort()).toEqual(['attributes', 'destination', 'parsed_body', 'parsed_path', 'parsed_query', 'source', 'source_principal', 'truncated_body', 'version']);
    expect(printed.full_input.version).toEqual({ ext_authz: 'v3', encoding: 'protojson' });
    expect(printed.full_input.parsed_path).toEqual(['api', 'v1', 'data']);
    expect(printed.full_input.parsed_query).toEqual({ from: ['2026-11-01'] });
    expect(printed.full_input.source_principal).toBe(ANALYTICS);
    expect(printed.full_input.source.spiffe_id).toBe(ANALYTICS);
    // The headers the rules library leaves out are all there.
    expect(Object.keys(printed.full_input.attributes.request.http.headers).length).toBeGreaterThan(Object.keys(printed.input.attributes.request.http.headers).length);
    // The decision is the same with or without it, and without the flag there is no full_input.
    const plain = JSON.parse((await runCli(['eval', '--request', request])).stdout);
    expect(plain.full_input).toBeUndefined();
    expect(plain.result).toEqual(printed.result);
    expect((await runCli(['eval', '--full-input=maybe', '--request', request])).code).toBe(2);
  });

  it('shows a deny with its HTTP status', async () => {
    const { code, stdout } = await runCli(['eval', '--request', join(ROOT, 'examples/requests/analytics-post-data.json')]);
    expect(code).toBe(0);
    const printed = JSON.parse(stdout);
    expect(printed).toMatchObject({ allowed: false, reason: 'no_allow_rule_matched', response: { status: { code: 7 }, deniedResponse: { status: { code: 'Forbidden' } } } });
    expect(printed.result[0].result.dynamic_metadata).toEqual({ rule: 'default', reason: 'no_allow_rule_matched', shadow_denies: [] });
    expect(printed.response.deniedResponse.headers).toEqual(expect.arrayContaining([expect.objectContaining({ header: { key: 'x-ext-authz-reason', value: 'no_allow_rule_matched' } })]));
    expect(printed.input).toEqual({ attributes: expect.any(Object), parsed_query: {}, source: expect.any(Object), destination: expect.any(Object) });
  });

  it('decides with a Rego bundle instead when --bundle is given', async () => {
    const bundle = compileRego('package envoy.authz\nallow := input.attributes.request.http.method == "POST"\n');
    const { code, stdout } = await runCli(['eval', '--bundle', bundle, '--request', join(ROOT, 'examples/requests/analytics-post-data.json')]);
    expect(code).toBe(0);
    const printed = JSON.parse(stdout);
    expect(printed.policy).toEqual({ source: bundle, decision: 'envoy/authz/allow', revision: expect.any(String) });
    expect(printed).toMatchObject({ allowed: true, reason: 'allowed', result: [{ result: true }] });
    // A Rego bundle is given the whole document: opa-envoy-plugin's keys and meshwarden's.
    expect(printed.input.parsed_path).toEqual(['api', 'v1', 'data']);
    expect(printed.input.parsed_body).toEqual({ query: 'all' });
    expect(printed.input.source_principal).toBe(ANALYTICS);
    expect(printed.input.attributes.request.time).toEqual({ seconds: 1795339800, nanos: 123456000 }); // 2026-11-22T09:30:00.123456Z
    expect(printed.input.version).toEqual({ ext_authz: 'v3', encoding: 'protojson' });
    expect(printed.input.source).toMatchObject({ principal: ANALYTICS, via: 'mtls', address: '10.0.1.17' });
  });

  it('decides with the trust domains it is given: cluster.local in the default rules means the local trust domain', async () => {
    const { code, stdout } = await runCli(['eval', '--trust-domain', 'prod.example', '--request', join(ROOT, 'examples/requests/analytics-get-data.json')]);
    expect(code).toBe(0);
    // The example request's identities are in cluster.local, now a foreign trust domain: no rule applies.
    expect(JSON.parse(stdout)).toMatchObject({ allowed: false, reason: 'default_deny', response: { dynamicMetadata: { rule: 'default', reason: 'default_deny' } } });
  });

  it('rejects a request file that is not a CheckRequest, naming the field', async () => {
    const dir = makeTempDir('meshwarden-eval-');
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ attributes: { sauce: {} } }));
    const { code, stderr } = await runCli(['eval', '--request', join(dir, 'bad.json')]);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown field "sauce"');
  });
});

describe('configuration errors', () => {
  it('lists every bad flag and variable at once and exits non-zero', async () => {
    const { code, stderr } = await runCli(['serve', '--grpc-addr', 'nope', '--log-level', 'loud', '--max-request-bytes', '12', '--frobnicate'], {
      MESHWARDEN_SHADOW: 'maybe',
      MESHWARDEN_TYPO: 'x',
    });
    expect(code).toBe(2);
    for (const text of ['--grpc-addr', '"nope"', '--log-level', '"loud"', '--max-request-bytes', '--frobnicate: unknown flag', 'MESHWARDEN_SHADOW', 'MESHWARDEN_TYPO: unknown setting']) {
      expect(stderr).toContain(text);
    }
  });

  it('rejects a policy file that is not a policy with a clear message', async () => {
    const dir = makeTempDir('meshwarden-bad-');
    writeFileSync(join(dir, 'policy.tar.gz'), 'not a bundle');
    const { code, stderr } = await runCli(['serve', '--grpc-addr', '127.0.0.1:0', '--bundle', join(dir, 'policy.tar.gz')]);
    expect(code).toBe(2);
    expect(stderr).toContain('neither a bundle (.tar.gz) nor a wasm module');
  });

  it('rejects a decision path the policy does not have', async () => {
    const bundle = compileRego('package envoy.authz\nallow := true\n');
    const { code, stderr } = await runCli(['serve', '--grpc-addr', '127.0.0.1:0', '--bundle', bundle, '--decision', 'istio/authz/allow']);
    expect(code).toBe(2);
    expect(stderr).toContain('is not an entrypoint of this policy (it has: envoy/authz/allow)');
  });

  it('rejects --decision without --bundle: the embedded default is a rules file', async () => {
    const { code, stderr } = await runCli(['serve', '--grpc-addr', '127.0.0.1:0', '--decision', 'envoy/authz/allow']);
    expect(code).toBe(2);
    expect(stderr).toContain('--decision names an entrypoint of --bundle');
  });
});

describe('meshwarden serve as a process', () => {
  it('serves the embedded default rules without --rules or --bundle, reloads them on SIGHUP and exits 0 on SIGTERM', async () => {
    const { child, address, lines } = await startServe([]);
    const client = createClient(address);
    try {
      expect(lines.find((line) => line.msg === 'serving')).toMatchObject({ rules: join(ROOT, 'policies', 'default', 'rules.yaml'), decision: 'meshwarden/rules/decision' });
      const allowed = await client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data' }));
      expect(allowed.status?.code ?? 0).toBe(0);
      expect(allowed.dynamicMetadata.fields.rule.stringValue).toBe('analytics-reads-data');
      const denied = await client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, method: 'POST', path: '/api/v1/data' }));
      expect(denied.status.code).toBe(7);
      expect(denied.dynamicMetadata.fields.reason.stringValue).toBe('no_allow_rule_matched');

      child.kill('SIGHUP');
      await waitFor(() => lines.some((line) => line.msg === 'policy reloaded'));
      expect(lines.find((line) => line.msg === 'policy reloaded')).toMatchObject({ rules: join(ROOT, 'policies', 'default', 'rules.yaml') });
      expect((await client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data' }))).status?.code ?? 0).toBe(0);
    } finally {
      client.close();
    }
    await expectCleanExitOnSigterm(child);
  });

  it('reads the JWT key files again on SIGHUP (key rotation); a broken file keeps its last good keys', async () => {
    const [oldKey, newKey] = await Promise.all([createSigningKey('svid-old'), createSigningKey('svid-new')]);
    const bundle = writeJsonFile(spiffeBundleOf(oldKey));
    const config = writeTextFile(`jwt-svid:\n  audience: ${DATA_SERVICE}\n  bundle-file: ${bundle}\n`, `rotation-${process.pid}.yaml`);
    const { child, address, lines } = await startServe(['--config', config]);
    const client = createClient(address);
    // a plaintext caller proving the analytics identity with a JWT-SVID, to the data service (the default rules)
    const allowedWith = async (key: Awaited<ReturnType<typeof createSigningKey>>): Promise<boolean> => {
      const token = await signToken(key, { sub: ANALYTICS, aud: DATA_SERVICE });
      const response = await client.check(httpCheckRequest({ destination: DATA_SERVICE, path: '/api/v1/data', headers: { authorization: `Bearer ${token}` } }));
      return (response.status?.code ?? 0) === 0;
    };
    try {
      expect([await allowedWith(oldKey), await allowedWith(newKey)]).toEqual([true, false]);
      writeJsonFile(spiffeBundleOf(newKey), bundle.split('/').pop());
      child.kill('SIGHUP');
      await waitFor(() => lines.some((line) => line.msg === 'key files reloaded'));
      expect([await allowedWith(oldKey), await allowedWith(newKey)]).toEqual([false, true]);

      writeJsonFile('{"keys": [', bundle.split('/').pop());
      child.kill('SIGHUP');
      await waitFor(() => lines.some((line) => line.msg === 'key file reload failed; its last good keys stay in use'));
      expect(lines.find((line) => line.msg.startsWith('key file reload failed')).error).toContain(bundle);
      expect(await allowedWith(newKey)).toBe(true);
    } finally {
      client.close();
    }
    await expectCleanExitOnSigterm(child);
  });

  it('reloads on SIGHUP, keeps the last good policy when the new file is bad, and exits 0 on SIGTERM', async () => {
    const dir = makeTempDir('meshwarden-reload-');
    const bundle = join(dir, 'policy.tar.gz');
    copyFileSync(compileRego('package envoy.authz\nallow := false\n'), bundle);
    const { child, address, lines } = await startServe(['--bundle', bundle]);
    const client = createClient(address);
    const request = httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data' });
    try {
      expect((await client.check(request)).status.code).toBe(7);

      writeFileSync(bundle, 'garbage');
      child.kill('SIGHUP');
      await waitFor(() => lines.some((line) => line.msg.startsWith('policy reload failed')));
      expect((await client.check(request)).status.code).toBe(7); // still the last good policy

      copyFileSync(compileRego('package envoy.authz\nallow := true\n'), bundle);
      child.kill('SIGHUP');
      await waitFor(() => lines.some((line) => line.msg === 'policy reloaded'));
      expect((await client.check(request)).status?.code ?? 0).toBe(0);
    } finally {
      client.close();
    }
    await expectCleanExitOnSigterm(child);
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
  });
});
