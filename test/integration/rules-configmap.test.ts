// A rules file in a Kubernetes ConfigMap volume (istio/rules-patch.yaml), through the real server: the kubelet
// never rewrites the file in place. It writes each version into a new timestamped directory and swaps the
// `..data` symlink to it with a rename; `rules.yaml` is a symlink through `..data` (kubelet AtomicWriter).
// meshwarden serves DIR/rules.yaml and must see every swap on its own, without SIGHUP or a restart.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { httpCheckRequest, startTestServer, type CheckResponseObject, type TestServer } from '../helpers/server.js';
import { ROOT } from '../helpers/tools.js';
import { makeTempDir } from '../helpers/temp.js';

const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

const KEY = 'rules.yaml';

/** A ConfigMap volume as the kubelet lays it out, updated the way the kubelet updates it. */
class ConfigMapVolume {
  readonly dir = makeTempDir('meshwarden-configmap-');
  private version = 0;
  private current: string | undefined;

  /** The path a pod sees: <mountPath>/<key>. */
  get file(): string {
    return join(this.dir, KEY);
  }

  /** Writes a new version of the key: new timestamped dir, `..data_tmp` → it, rename over `..data`, old dir removed. */
  write(content: string): void {
    this.version += 1;
    const next = `..2026_12_02_00_00_00.${String(this.version).padStart(9, '0')}`;
    mkdirSync(join(this.dir, next));
    writeFileSync(join(this.dir, next, KEY), content);
    symlinkSync(next, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    // The user-visible link is created once and always points through ..data.
    if (this.current === undefined) symlinkSync(join('..data', KEY), this.file);
    else rmSync(join(this.dir, this.current), { recursive: true });
    this.current = next;
  }
}

const id = (ns: string, sa: string): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;
const allowed = (response: CheckResponseObject): boolean => (response.status?.code ?? 0) === 0;
const request = (method: string) => httpCheckRequest({ source: id('analytics', 'analytics'), destination: id('data', 'data'), method, path: '/api/v1/data' });

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('rules from a ConfigMap volume (kubelet layout)', () => {
  it('reloads on each ..data swap; an invalid version is rejected with the rule and line, the last good rules keep serving', async () => {
    const volume = new ConfigMapVolume();
    const v1 = readFileSync(join(ROOT, 'examples', 'rules', 'regulated-data.yaml'), 'utf8');
    volume.write(v1);
    const server = await startTestServer(['--rules', volume.file]);
    servers.push(server);
    const decide = async (method: string): Promise<boolean> => allowed(await server.client.check(request(method)));
    const loads = async (result: 'success' | 'failure'): Promise<number> => {
      const metrics = await (await fetch(`http://127.0.0.1:${server.serving.admin!.port}/metrics`)).text();
      return Number(new RegExp(`^meshwarden_policy_loads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    };
    expect(await decide('GET')).toBe(true);
    expect(await decide('POST')).toBe(false);
    expect(await loads('success')).toBe(1);

    // A valid update: analytics may now POST too.
    volume.write(v1.replace('methods: [GET]', 'methods: [GET, POST]'));
    await waitFor('the updated ConfigMap allows POST (was the ..data swap seen?)', () => decide('POST'));
    expect(await decide('GET')).toBe(true);
    expect(server.logs.some((line) => line.msg === 'policy reloaded' && line['rules'] === volume.file)).toBe(true);
    expect(await loads('success')).toBeGreaterThanOrEqual(2);
    // The kubelet's layout after the swap: one timestamped dir, ..data, the key's link; no ..data_tmp.
    expect(readdirSync(volume.dir).sort()).toEqual(['..2026_12_02_00_00_00.000000002', '..data', KEY]);

    // An invalid update: rejected and logged with the file, line and rule; the previous version keeps serving.
    volume.write(v1.replace('methods: [GET]', 'methods: [GET, POST]').replace('action: ALLOW', 'action: PERMIT'));
    await waitFor('a failed reload is logged', () => server.logs.some((line) => line.msg.startsWith('policy reload failed')));
    const failure = server.logs.find((line) => line.msg.startsWith('policy reload failed'))!;
    expect(failure.level).toBe('error');
    expect(String(failure.error)).toMatch(/rules\.yaml:3: rule "analytics-reads-data"/);
    expect(await loads('failure')).toBeGreaterThanOrEqual(1);
    expect(await decide('POST')).toBe(true);
    expect(await decide('GET')).toBe(true);

    // Fixing the ConfigMap is the next swap; it loads without a restart.
    const reloads = server.logs.filter((line) => line.msg === 'policy reloaded').length;
    volume.write(v1);
    await waitFor('the fixed ConfigMap denies POST again', async () => !(await decide('POST')));
    expect(await decide('GET')).toBe(true);
    expect(server.logs.filter((line) => line.msg === 'policy reloaded').length).toBeGreaterThan(reloads);
  });
});
