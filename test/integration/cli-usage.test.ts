// The built command as a user meets it: --help on every command (stdout, exit 0), usage on a mistake on stderr,
// and a listener that cannot bind as one line with the exit code of every other start-up error.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/tools.js';

const CLI = join(ROOT, 'dist', 'src', 'cli.js');

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('--help', () => {
  it.each([
    [['serve', '--help'], 'Usage: meshwarden serve [flags]'],
    [['serve', '-h'], 'Usage: meshwarden serve [flags]'],
    [['serve', '--grpc-addr', '127.0.0.1:1', '--help'], 'Usage: meshwarden serve [flags]'],
    [['eval', '--help'], 'Usage: meshwarden eval --request FILE [flags]'],
    [['rules', '--help'], 'meshwarden rules validate FILE [flags]'],
    [['rules', 'validate', '--help'], 'Usage: meshwarden rules validate FILE'],
    [['rules', 'compile', '--help'], 'Usage: meshwarden rules compile FILE'],
    [['rules', 'explain', '--help'], 'Usage: meshwarden rules explain [--rules FILE] --request FILE'],
    [['--help'], 'meshwarden serve [flags]'],
  ])('meshwarden %j prints its usage on stdout and exits 0', async (args, usage) => {
    const { code, stdout, stderr } = await runCli(args);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain(usage);
  });

  it('serve --help lists every flag and says what :PORT means', async () => {
    const { stdout } = await runCli(['serve', '--help']);
    for (const flag of ['--grpc-addr', '--admin-addr', '--http-addr', '--rules', '--bundle', '--shadow', '--config']) expect(stdout).toContain(flag);
    expect(stdout).toContain(':PORT means every IPv4 interface (0.0.0.0)');
  });
});

describe('a mistake', () => {
  it.each([
    [['serve', '--bogus'], '--bogus: unknown flag', 'meshwarden serve --help'],
    [['eval'], '--request FILE is required', 'meshwarden eval --help'],
    [['rules'], 'a subcommand is required', 'meshwarden rules --help'],
    [['rules', 'validate'], 'a rules FILE is required', 'meshwarden rules validate --help'],
  ])('meshwarden %j says what is wrong on stderr, points to the usage, exits 2', async (args, problem, hint) => {
    const { code, stdout, stderr } = await runCli(args);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toContain(problem);
    expect(stderr).toContain(hint);
  });

  it('no command at all prints the usage on stderr, exit 2', async () => {
    const { code, stdout, stderr } = await runCli([]);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toContain('Usage:');
  });
});

describe('a listener that cannot bind', () => {
  let taken: Server;
  let port: number;
  beforeAll(async () => {
    taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    port = (taken.address() as { port: number }).port;
  });
  afterAll(() => {
    taken.close();
  });

  it.each([
    ['gRPC', () => ['--grpc-addr', `127.0.0.1:${port}`, '--admin-addr', 'off'], () => `cannot listen for gRPC on 127.0.0.1:${port}: the address is already in use`],
    ['admin', () => ['--grpc-addr', '127.0.0.1:0', '--admin-addr', `127.0.0.1:${port}`], () => `cannot listen for the admin endpoint on 127.0.0.1:${port}: the address is already in use`],
    ['HTTP', () => ['--grpc-addr', '127.0.0.1:0', '--admin-addr', 'off', '--http-addr', `127.0.0.1:${port}`], () => `cannot listen for HTTP ext_authz on 127.0.0.1:${port}: the address is already in use`],
    ['gRPC, unresolvable host', () => ['--grpc-addr', 'no-such-host.invalid:9191', '--admin-addr', 'off'], () => 'cannot listen for gRPC on no-such-host.invalid:9191: the host "no-such-host.invalid" does not resolve'],
    ['admin, unresolvable host', () => ['--grpc-addr', '127.0.0.1:0', '--admin-addr', 'no-such-host.invalid:9090'], () => 'cannot listen for the admin endpoint on no-such-host.invalid:9090: the host "no-such-host.invalid" does not resolve'],
  ].flatMap(([name, args, line]) => ['1', '2'].map((workers) => [name, workers, args, line] as const)))(
    '%s, --workers %s: one line on stderr, nothing from grpc-js, exit 2 like any start-up error',
    async (_name, workers, args, line) => {
      // One process, and a primary with workers: the primary binds the addresses, so either way one line.
      const { code, stderr } = await runCli(['serve', '--workers', workers, ...(args as () => string[])()]);
      expect(code).toBe(2);
      expect(stderr).toBe(`meshwarden serve: ${(line as () => string)()}\n`);
    },
  );
});
