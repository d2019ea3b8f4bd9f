// meshwarden as a user gets it: `npm start` in the repository (SIGTERM reaches the server, no rebuild when nothing
// changed) and the packed tarball (`npm pack` builds first, carries LICENSE, `npx meshwarden serve` serves).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ANALYTICS, DATA_SERVICE, createClient, httpCheckRequest } from '../helpers/server.js';
import { makeTempDir } from '../helpers/temp.js';
import { ROOT } from '../helpers/tools.js';

const run = promisify(execFile);

interface Started {
  child: ChildProcess;
  address: string;
  lines: Array<Record<string, unknown>>;
  stderr: () => string;
}

/** Spawns a command that runs `meshwarden serve` and resolves once the server logs "serving" (within 60 s). */
async function startServing(command: string, args: string[], options: { cwd: string; detached?: boolean }): Promise<Started> {
  // As a user's shell starts it: without the npm_* variables of an npm or npx this test may run under (CI runs
  // the suite through `npx -p node@24`, whose npm_config_package would send the inner npx after node@24).
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('npm_')));
  const child = spawn(command, args, { cwd: options.cwd, detached: options.detached ?? false, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, npm_config_update_notifier: 'false' } });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let buffer = '';
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "serving" line within 60 s; stderr: ${stderr}`)), 60_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (!text.startsWith('{')) continue; // npm's own banner lines
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        if (line['msg'] === 'serving') {
          clearTimeout(timer);
          resolve(line['address'] as string);
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`exited early with ${code}; stderr: ${stderr}`)));
  });
  return { child, address, lines, stderr: () => stderr };
}

/** The pids of running `meshwarden serve` processes whose command line carries `--shutdown-grace-ms marker`. */
async function serversMarked(marker: string): Promise<string[]> {
  const found = await run('pgrep', ['-f', `cli.js serve .*--shutdown-grace-ms ${marker}`]).catch(() => ({ stdout: '' }));
  return found.stdout.split('\n').filter(Boolean);
}

/** Whether a process with this pid (or process group, negative) still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function expectAllowed(address: string): Promise<void> {
  const client = createClient(address);
  try {
    const response = await client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data' }));
    expect(response.status?.code ?? 0).toBe(0);
  } finally {
    client.close();
  }
}

describe('npm start', () => {
  it('serves without rebuilding when nothing changed, and SIGTERM to npm stops the server (no child left behind)', async () => {
    await run(process.execPath, [join(ROOT, 'scripts', 'build-if-stale.mjs')], { cwd: ROOT });
    // A grace period no one else uses marks this server among the processes of the machine.
    const marker = String(20_000 + Math.floor(Math.random() * 10_000));
    const started = await startServing('npm', ['start', '--silent', '--', '--grpc-addr', '127.0.0.1:0', '--admin-addr', 'off', '--drain-ms', '0', '--shutdown-grace-ms', marker], { cwd: ROOT });
    expect(started.stderr()).not.toContain('building');
    await expectAllowed(started.address);
    started.child.kill('SIGTERM');
    const [code] = await once(started.child, 'exit');
    expect(code).toBe(0);
    expect(started.lines.map((line) => line['msg'])).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
    expect(await serversMarked(marker)).toEqual([]);
  });
});

describe('the packed tarball', () => {
  let dir: string;
  let tarball: string;
  beforeAll(async () => {
    dir = makeTempDir('meshwarden-pack-');
    // Packed from a copy without dist/, so the tarball's build can only come from prepack (and the repository's
    // own dist/, which other test files run at the same time, is never rewritten under them).
    const source = join(dir, 'source');
    mkdirSync(join(source, 'policies'), { recursive: true });
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'LICENSE', 'README.md', 'src', 'policies/build', 'policies/default']) cpSync(join(ROOT, path), join(source, path), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'));
    await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: source, timeout: 120_000 });
    expect(existsSync(join(source, 'dist', 'src', 'cli.js'))).toBe(true);
    tarball = join(dir, readdirSync(dir).find((name) => name.endsWith('.tgz'))!);
    const app = join(dir, 'app');
    await run('mkdir', [app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
    await run('npm', ['install', '--silent', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: app, timeout: 120_000 });
  }, 240_000);

  it('carries the LICENSE (Apache-2.0), the built command and the policies, and no sources or tests', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean);
    expect(files).toEqual(expect.arrayContaining(['package/LICENSE', 'package/package.json', 'package/dist/src/cli.js', 'package/policies/build/rules.tar.gz', 'package/policies/default/rules.yaml']));
    expect(files.filter((file) => file.startsWith('package/src/') || file.startsWith('package/test/'))).toEqual([]);
    const license = readFileSync(join(dir, 'app', 'node_modules', 'meshwarden', 'LICENSE'), 'utf8');
    expect(license).toContain('Apache License');
    expect(license).toContain('Version 2.0, January 2004');
  });

  it('npx meshwarden serve starts from the installed package, answers a Check and stops on SIGTERM', async () => {
    // npx runs the command through a shell, which does not pass a signal on: it is sent to the process group,
    // as a terminal's Ctrl-C or a supervisor stopping the whole group does.
    const started = await startServing('npx', ['--no-install', 'meshwarden', 'serve', '--grpc-addr', '127.0.0.1:0', '--admin-addr', 'off', '--drain-ms', '0'], { cwd: join(dir, 'app'), detached: true });
    expect(started.lines.find((line) => line['msg'] === 'serving')).toMatchObject({ rules: join(dir, 'app', 'node_modules', 'meshwarden', 'policies', 'default', 'rules.yaml') });
    await expectAllowed(started.address);
    process.kill(-started.child.pid!, 'SIGTERM');
    await once(started.child, 'exit');
    // npx may exit before the server has finished draining: the group is gone within a few seconds.
    for (let i = 0; i < 50 && alive(-started.child.pid!); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alive(-started.child.pid!)).toBe(false);
    expect(started.lines.map((line) => line['msg'])).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
  });

  it('the installed bin stops with exit 0 on SIGTERM sent to it alone', async () => {
    const started = await startServing(join(dir, 'app', 'node_modules', '.bin', 'meshwarden'), ['serve', '--grpc-addr', '127.0.0.1:0', '--admin-addr', 'off', '--drain-ms', '0'], { cwd: join(dir, 'app') });
    await expectAllowed(started.address);
    started.child.kill('SIGTERM');
    const [code] = await once(started.child, 'exit');
    expect(code).toBe(0);
  });
});
