// The built CLI's `meshwarden serve` as a child process on 127.0.0.1 (port 0): its log lines, the addresses it
// logged, when and how it exited, and its resident memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './tools.js';

const CLI = join(ROOT, 'dist', 'src', 'cli.js');

export interface ServeProcess {
  child: ChildProcess;
  lines: Record<string, any>[];
  grpcAddress: string;
  adminPort: number;
  /** Set when started with --http-addr. */
  httpPort: number | undefined;
  /** Resolves with the exit code and the time (Date.now()) of the exit, once its output is all read. */
  exited: Promise<{ code: number | null; at: number }>;
  /** Resident set size in bytes (Linux /proc). */
  rssBytes(): number;
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/** Starts `serve` with `args` (after 127.0.0.1:0 listeners) and resolves once it logs "serving". */
export async function startServeProcess(args: string[], nodeArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'serve', '--grpc-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  // 'close', not 'exit': by then every line the process wrote has been read.
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('close', (code) => resolve({ code, at: Date.now() })));
  const lines: Record<string, any>[] = [];
  let buffer = '';
  let adminPort = 0;
  let httpPort: number | undefined;
  const grpcAddress = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('serve did not log "serving" within 20 s')), 20_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const line = JSON.parse(buffer.slice(0, newline)) as Record<string, any>;
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        if (line['msg'] === 'admin endpoint listening') adminPort = portOf(line['address']);
        if (line['msg'] === 'HTTP ext_authz service listening') httpPort = portOf(line['address']);
        if (line['msg'] === 'serving') {
          clearTimeout(timer);
          resolve(line['address']);
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited early with ${code}`));
    });
  });
  return {
    child,
    lines,
    grpcAddress,
    adminPort,
    httpPort,
    exited,
    rssBytes(): number {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = /VmRSS:\s+(\d+) kB/.exec(status);
      if (!kib) throw new Error('no VmRSS in /proc status');
      return Number(kib[1]) * 1024;
    },
  };
}
