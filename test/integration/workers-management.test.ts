// `meshwarden serve --workers 2 --config-file` as a process: the primary downloads the bundle from nginx (one
// poll, one ETag), hands every worker the same policy, uploads one decision-log event per decision to a
// receiver and reports status with the revision the workers serve; a bundle update under load fails or
// mis-decides no call; a bad bundle changes nothing anywhere; SIGTERM drains and uploads the last events.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nginxPath, startNginx, type Nginx } from '../helpers/nginx.js';
import { buildBundle } from '../helpers/policies.js';
import { createClient, httpCheckRequest, type AuthorizationClient } from '../helpers/server.js';
import { ROOT } from '../helpers/tools.js';

const CLI = join(ROOT, 'dist', 'src', 'cli.js');

const V1 = buildBundle({ files: { 'authz.rego': 'package envoy.authz\ndefault allow := false\nallow if input.attributes.request.http.path == "/v1"\n' }, revision: 'v1' });
// Allows /v1 as V1 does, and /v2: a call for /v1 is allowed whichever revision decides it.
const V2 = buildBundle({
  files: { 'authz.rego': 'package envoy.authz\ndefault allow := false\nallow if input.attributes.request.http.path == "/v1"\nallow if input.attributes.request.http.path == "/v2"\n' },
  revision: 'v2',
});
const WRONG_ENTRYPOINT = buildBundle({ files: { 'authz.rego': 'package other\nallow := true\n' }, entrypoint: 'other/allow', revision: 'bad' });

const NGINX_AVAILABLE = nginxPath() !== undefined;
if (!NGINX_AVAILABLE) console.warn('\n!!! SKIPPED: %s needs nginx (node scripts/tools.mjs nginx, as root)\n', import.meta.filename);

interface Receiver {
  url: string;
  events: Record<string, any>[];
  statuses: Record<string, any>[];
  problems: string[];
  server: Server;
}

/** Decision logs (gzip JSON arrays on /logs) and status (JSON on /status), each checked as it arrives. */
async function startReceiver(): Promise<Receiver> {
  const receiver: Omit<Receiver, 'url'> = { events: [], statuses: [], problems: [], server: undefined as unknown as Server };
  receiver.server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      try {
        if (request.url === '/logs') {
          if (request.headers['content-encoding'] !== 'gzip') throw new Error('a log upload without gzip');
          const events = JSON.parse(gunzipSync(body).toString('utf8')) as unknown;
          if (!Array.isArray(events)) throw new Error('a log upload that is not an array');
          receiver.events.push(...(events as Record<string, any>[]));
        } else if (request.url === '/status' || request.url === '/status/') {
          receiver.statuses.push(JSON.parse(body.toString('utf8')) as Record<string, any>);
        } else throw new Error(`unexpected ${request.method} ${request.url}`);
      } catch (error) {
        receiver.problems.push(String(error));
      }
      response.writeHead(200).end();
    });
  });
  receiver.server.listen(0, '127.0.0.1');
  await once(receiver.server, 'listening');
  return { ...receiver, url: `http://127.0.0.1:${(receiver.server.address() as { port: number }).port}` } as Receiver;
}

const running: ChildProcess[] = [];

afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Served {
  child: ChildProcess;
  address: string;
  admin: string;
  lines: any[];
}

async function startWorkers(config: string, env: NodeJS.ProcessEnv): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config-file', config, '--grpc-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--workers', '2', '--drain-ms', '200'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { PATH: process.env.PATH, ...env },
  });
  running.push(child);
  const served: Served = { child, address: '', admin: '', lines: [] };
  let buffer = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const line = JSON.parse(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        served.lines.push(line);
        if (line.msg?.startsWith('serving')) served.address = line.address;
        if (line.msg === 'admin endpoint listening') served.admin = line.address;
        if (line.msg?.startsWith('workers serving')) resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
  });
  return served;
}

function workerPids(primary: ChildProcess): number[] {
  return readdirSync(`/proc/${primary.pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${primary.pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const metrics = async (served: Served): Promise<string> => (await fetch(`http://${served.admin}/metrics`)).text();
const ready = async (served: Served): Promise<boolean> => (await fetch(`http://${served.admin}/readyz`)).status === 200;
const codeOf = (response: any): number => response.status?.code ?? 0;
const check = (path: string) => httpCheckRequest({ path });

function revisionsOf(text: string): Record<string, number> {
  const revisions: Record<string, number> = {};
  for (const match of text.matchAll(/^meshwarden_policy_revision_info\{revision="([^"]+)"\} (\d+)/gm)) revisions[match[1]!] = Number(match[2]);
  return revisions;
}

function counterOf(text: string, name: string, labels: string): number {
  const match = new RegExp(`^${name}\\{${labels}\\} (\\d+)`, 'm').exec(text);
  return match === null ? Number.NaN : Number(match[1]);
}

describe.runIf(NGINX_AVAILABLE)('serve --workers 2 with bundles, decision logs and status (nginx, a receiver)', () => {
  let nginx: Nginx;
  let receiver: Receiver;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshwarden-workers-management-'));
    nginx = await startNginx();
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await nginx?.stop();
    receiver?.server.close();
  });

  it('hands every worker the bundle the primary downloaded; an update under load fails or mis-decides nothing; one event per decision', { timeout: 180_000 }, async () => {
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `services:
  bundle-server:
    url: \${BUNDLE_SERVER_URL}
  control:
    url: \${CONTROL_URL}
bundles:
  authz:
    service: bundle-server
    resource: bundles/authz.tar.gz
    persist: true
    polling: { min_delay_seconds: 1, max_delay_seconds: 1 }
decision_logs:
  service: control
  reporting: { min_delay_seconds: 1, max_delay_seconds: 1 }
status:
  service: control
persistence_directory: ${join(dir, 'opa')}
labels: { team: payments }
`,
    );
    nginx.publish('bundles/authz.tar.gz', V1);
    const served = await startWorkers(config, { BUNDLE_SERVER_URL: nginx.url, CONTROL_URL: receiver.url });
    expect(workerPids(served.child)).toHaveLength(2);
    await waitFor(() => ready(served));
    const first = revisionsOf(await metrics(served));
    expect(Object.values(first)).toEqual([2]);

    // Connections of their own, so both workers get some (the primary hands them out in turn).
    const pool: AuthorizationClient[] = Array.from({ length: 4 }, () => createClient(served.address, { ownConnection: true }));
    for (const client of pool) {
      expect(codeOf(await client.check(check('/v1')))).toBe(0);
      expect(codeOf(await client.check(check('/v2')))).not.toBe(0);
    }
    let made = pool.length * 2;

    // Under load, the next revision: /v1 stays allowed through the swap, on every worker.
    let stopped = false;
    const tally = { calls: 0, codes: {} as Record<number, number>, errors: [] as string[] };
    const loading = Promise.all(
      pool.map(async (client) => {
        while (!stopped && tally.calls < 20_000) {
          tally.calls++;
          try {
            const code = codeOf(await client.check(check('/v1'), { deadlineMs: 10_000 }));
            tally.codes[code] = (tally.codes[code] ?? 0) + 1;
          } catch (error) {
            tally.errors.push(String(error));
          }
        }
      }),
    );
    await waitFor(() => tally.calls > 100);
    nginx.publish('bundles/authz.tar.gz', V2);
    await waitFor(async () => {
      const revisions = revisionsOf(await metrics(served));
      return Object.keys(revisions).length === 1 && !(Object.keys(revisions)[0]! in first) && Object.values(revisions)[0] === 2;
    });
    await waitFor(() => ready(served));
    await new Promise((resolve) => setTimeout(resolve, 300));
    stopped = true;
    await loading;
    made += tally.calls;
    expect(tally.errors).toEqual([]);
    expect(Object.keys(tally.codes)).toEqual(['0']);
    for (const client of pool) expect(codeOf(await client.check(check('/v2')))).toBe(0);
    made += pool.length;
    const v2 = revisionsOf(await metrics(served));

    // One poll for all of them: nginx saw the primary's GETs only, each with the ETag after the first.
    const gets = nginx.accessLog().filter((line) => line.includes('/bundles/authz.tar.gz'));
    expect(gets.filter((line) => line.startsWith('200')).length).toBe(2);
    expect(served.lines.filter((line) => line.msg === 'bundle activated')).toHaveLength(2);
    expect(served.lines.filter((line) => line.msg === 'policy adopted from the primary')).toHaveLength(4);

    // A bad bundle: rejected in the primary, counted; no worker changes.
    const rejectedBefore = counterOf(await metrics(served), 'meshwarden_bundle_polls_total', 'bundle="authz",result="rejected"');
    nginx.publish('bundles/authz.tar.gz', WRONG_ENTRYPOINT);
    await waitFor(async () => counterOf(await metrics(served), 'meshwarden_bundle_polls_total', 'bundle="authz",result="rejected"') > rejectedBefore);
    expect(revisionsOf(await metrics(served))).toEqual(v2);
    for (const client of pool) expect(codeOf(await client.check(check('/v2')))).toBe(0);
    made += pool.length;
    expect(await ready(served)).toBe(true);

    // Status: the revision the workers serve, from the primary alone.
    await waitFor(() => receiver.statuses.some((status) => status.bundles?.authz?.active_revision === 'v2'));
    expect(new Set(receiver.statuses.map((status) => status.labels.id)).size).toBe(1);
    expect(receiver.statuses.every((status) => status.labels.team === 'payments')).toBe(true);
    for (const client of pool) client.close();

    // SIGTERM drains: the workers' last decisions are forwarded, the primary uploads them before it exits.
    served.child.kill('SIGTERM');
    const [code] = await once(served.child, 'exit');
    expect(code).toBe(0);
    expect(receiver.problems).toEqual([]);
    const decided = served.lines.filter((line) => line.msg === 'decision').map((line) => line.decision_id as string);
    expect(decided).toHaveLength(made);
    const uploaded = receiver.events.map((event) => event.decision_id as string);
    // Exactly one event per decision: none lost, none twice.
    expect(uploaded.length).toBe(made);
    expect(new Set(uploaded)).toEqual(new Set(decided));
    // Each event names the bundle revision of the policy that decided it, as that worker served it.
    expect(new Set(receiver.events.map((event) => event.bundles?.authz?.revision))).toEqual(new Set(['v1', 'v2']));
    expect(receiver.events.every((event) => event.labels.team === 'payments' && event.path === 'envoy/authz/allow')).toBe(true);
    // The primary's last line: every worker exited cleanly.
    expect(served.lines.filter((line) => line.msg === 'stopped' && 'clean' in line).map((line) => line.clean)).toEqual([true]);
  });
});

describe('serve --workers 2 with a local bundle and decision logs (a receiver)', () => {
  it('uploads one event per decision from both workers, each with its result, the last ones at SIGTERM', { timeout: 120_000 }, async () => {
    const receiver = await startReceiver();
    try {
      const dir = mkdtempSync(join(tmpdir(), 'meshwarden-workers-logs-'));
      const bundle = join(dir, 'bundle.tar.gz');
      writeFileSync(bundle, V1);
      const config = join(dir, 'config.yaml');
      writeFileSync(
        config,
        `services:
  control:
    url: \${CONTROL_URL}
decision_logs:
  service: control
  reporting: { min_delay_seconds: 1, max_delay_seconds: 1 }
`,
      );
      const child = spawn(process.execPath, [CLI, 'serve', '--config-file', config, '--bundle', bundle, '--grpc-addr', '127.0.0.1:0', '--admin-addr', 'off', '--workers', '2', '--drain-ms', '0'], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { PATH: process.env.PATH, CONTROL_URL: receiver.url },
      });
      running.push(child);
      const lines: any[] = [];
      let address = '';
      let buffer = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
          buffer += chunk;
          let newline: number;
          while ((newline = buffer.indexOf('\n')) !== -1) {
            const line = JSON.parse(buffer.slice(0, newline));
            buffer = buffer.slice(newline + 1);
            lines.push(line);
            if (line.msg === 'serving') address = line.address;
            if (line.msg === 'workers serving') resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
      });
      const pool = Array.from({ length: 4 }, () => createClient(address, { ownConnection: true }));
      for (let round = 0; round < 25; round++) {
        for (const client of pool) expect(codeOf(await client.check(check(round % 2 === 0 ? '/v1' : '/v2')))).toBe(round % 2 === 0 ? 0 : 7);
      }
      for (const client of pool) client.close();
      // Some are uploaded while serving (every second), the rest at SIGTERM: all of them, once.
      await waitFor(() => receiver.events.length > 0);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      expect(receiver.problems).toEqual([]);
      const decided = lines.filter((line) => line.msg === 'decision').map((line) => line.decision_id as string);
      expect(decided).toHaveLength(100);
      expect(receiver.events.map((event) => event.decision_id).sort()).toEqual([...decided].sort());
      // 13 rounds of /v1 (allowed), 12 of /v2 (denied), four connections each: each event says which.
      expect(receiver.events.filter((event) => event.result === true && event.input.attributes.request.http.path === '/v1')).toHaveLength(52);
      expect(receiver.events.filter((event) => event.result === false && event.input.attributes.request.http.path === '/v2')).toHaveLength(48);
    } finally {
      receiver.server.close();
    }
  });
});
