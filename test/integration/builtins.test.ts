// A bundle that needs a builtin meshwarden does not provide is refused at start-up (exit 2, naming it) and on
// reload (the last good policy keeps serving); a bundle calling provided builtins decides through the server, and
// opa.runtime() describes the server as started.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileRego } from '../helpers/policies.js';
import { httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';
import { ROOT } from '../helpers/tools.js';
import { PACKAGE_VERSION } from '../../src/package-paths.js';

const NEEDS_HTTP_SEND = 'package envoy.authz\n\nallow := http.send({"method": "GET", "url": "http://127.0.0.1:1/"}).status_code == 200\n';
// The JWT tutorial's shape: decode the bearer token, and time.now_ns against its expiry.
const USES_PROVIDED = `package envoy.authz

default allow := false

token := io.jwt.decode(trim_prefix(input.attributes.request.http.headers.authorization, "Bearer "))

allow if {
	token[1].sub == "alice"
	token[1].exp * 1000000000 > time.now_ns()
	semver.compare("1.10.0", "1.2.0") == 1
}
`;

// opa.runtime() read by a decision: the config file as serve read it, less its secrets.
const READS_RUNTIME = `package envoy.authz

runtime := opa.runtime()

allow := {"allowed": true, "headers": {
	"x-service-url": runtime.config.services.acme.url,
	"x-credentials": object.get(runtime.config.services.acme, "credentials", "left out"),
	"x-key-algorithm": runtime.config.keys.signer.algorithm,
	"x-key": object.get(runtime.config.keys.signer, "key", "left out"),
	"x-label": runtime.config.labels.team,
	"x-env": runtime.env.OPA_RUNTIME_TEST_HOST,
	"x-version": runtime.version,
}}
`;

const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

const unsignedToken = (claims: object): string =>
  `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;

describe('builtins and the policy load', () => {
  it('refuses at start-up a bundle that calls http.send: exit 2, the builtin named', async () => {
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'serve', '--grpc-addr', '127.0.0.1:0', '--admin-addr', 'off', '--bundle', compileRego(NEEDS_HTTP_SEND)], (error, _stdout, stderr) =>
        resolve({ code: error ? Number(error.code) : 0, stderr }),
      );
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('calls http.send, which meshwarden does not provide');
  });

  it('refuses it on reload, and the last good policy keeps serving', async () => {
    const bundle = join(mkdtempSync(join(tmpdir(), 'meshwarden-builtins-')), 'bundle.tar.gz');
    copyFileSync(compileRego(USES_PROVIDED), bundle);
    const server = await startTestServer(['--bundle', bundle]);
    servers.push(server);
    const request = (sub: string, expInSeconds: number) =>
      httpCheckRequest({ headers: { authorization: `Bearer ${unsignedToken({ sub, exp: Math.floor(Date.now() / 1000) + expInSeconds })}` } });
    const allowed = async (sub: string, exp: number): Promise<boolean> => ((await server.client.check(request(sub, exp))).status?.code ?? 0) === 0;
    expect([await allowed('alice', 60), await allowed('bob', 60), await allowed('alice', -60)]).toEqual([true, false, false]);
    const revision = server.serving.policies.current!.revision;
    copyFileSync(compileRego(NEEDS_HTTP_SEND), bundle);
    expect(await server.serving.reload()).toBe(false);
    expect(server.serving.policies.current!.revision).toBe(revision);
    expect(server.logs.find((line) => line.msg === 'policy reload failed; the last good policy keeps serving')?.['error']).toContain('http.send');
    expect(await allowed('alice', 60)).toBe(true);
  });

  it('gives opa.runtime() the OPA config file (substituted, credentials and key material left out) and the environment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshwarden-runtime-'));
    const configFile = join(dir, 'opa.yaml');
    writeFileSync(
      configFile,
      'services:\n  acme:\n    url: https://${OPA_RUNTIME_TEST_HOST}.example\n    credentials:\n      bearer: { token: secret-token }\n' +
        'keys:\n  signer:\n    algorithm: HS256\n    key: secret-key\nlabels:\n  team: payments\n',
    );
    process.env['OPA_RUNTIME_TEST_HOST'] = 'bundles';
    const server = await startTestServer(['--bundle', compileRego(READS_RUNTIME), '--config-file', configFile], process.env);
    servers.push(server);
    const response = await server.client.check(httpCheckRequest({}));
    const headers = Object.fromEntries((response.okResponse?.headers ?? []).map((option: { header?: { key: string; value: string } }) => [option.header!.key, option.header!.value]));
    expect(headers).toEqual({
      'x-service-url': 'https://bundles.example',
      'x-credentials': 'left out',
      'x-key-algorithm': 'HS256',
      'x-key': 'left out',
      'x-label': 'payments',
      'x-env': 'bundles',
      'x-version': PACKAGE_VERSION,
    });
    delete process.env['OPA_RUNTIME_TEST_HOST'];
  });
});
