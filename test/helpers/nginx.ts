// Debian's nginx on 127.0.0.1 as the bundle server: a real HTTP server that answers If-None-Match with 304 on
// its own (ETags from size and mtime). Installed by scripts/tools.mjs; each test run gets a prefix of its own.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './ports.js';
import { ROOT } from './tools.js';

export interface Nginx {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Places `content` at `path` below the server's root, atomically, with an mtime of its own (a new ETag). */
  publish(path: string, content: Buffer): void;
  /** The access log's lines as `<status> <if-none-match> <uri> <authorization>`. */
  accessLog(): string[];
  /** The lines of a second access log, `<status> <uri> "<prefer>"`: what each client said it takes. */
  preferLog(): string[];
  stop(): Promise<void>;
}

const NGINX_PATHS = ['/usr/sbin/nginx', '/usr/bin/nginx'];

/** The nginx binary, installed by the project's own scripts/tools.mjs when absent; undefined if it cannot be. */
export function nginxPath(): string | undefined {
  const found = NGINX_PATHS.find((path) => existsSync(path));
  if (found) return found;
  try {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'tools.mjs'), 'nginx'], { stdio: 'inherit' });
  } catch {
    return undefined;
  }
  return NGINX_PATHS.find((path) => existsSync(path));
}

let mtimeStep = 0;

export interface NginxTls {
  /** PEM files of the server's certificate and key. */
  cert: string;
  key: string;
  /** PEM file of the CA that client certificates must chain to; set, a client certificate is required. */
  clientCa?: string;
}

/**
 * Starts nginx serving `<prefix>/www`; `secureToken` guards /secure/ with a bearer token; `tls` serves https.
 * Below /deltas/ it serves as a delta-aware bundle server would: a client whose `Prefer` offers `modes=...delta`
 * (as OPA's downloader sends it) gets `delta/deltas/<path>` when that is published, every other client (and
 * that one, while there is no delta) `deltas/<path>`, the snapshot.
 */
export async function startNginx(options: { secureToken?: string; port?: number; tls?: NginxTls; redirects?: Record<string, string> } = {}): Promise<Nginx> {
  const binary = nginxPath();
  if (binary === undefined) throw new Error('nginx is not installed (node scripts/tools.mjs nginx)');
  const prefix = mkdtempSync(join(tmpdir(), 'meshwarden-nginx-'));
  const www = join(prefix, 'www');
  mkdirSync(join(prefix, 'tmp'), { recursive: true });
  mkdirSync(www, { recursive: true });
  const port = options.port ?? (await freePort());
  const tls = options.tls;
  const tlsLines =
    tls === undefined
      ? ''
      : `ssl_certificate ${tls.cert};\n    ssl_certificate_key ${tls.key};\n${tls.clientCa === undefined ? '' : `    ssl_client_certificate ${tls.clientCa};\n    ssl_verify_client on;\n`}`;
  const secure = options.secureToken === undefined ? '' : `location /secure/ { if ($http_authorization != "Bearer ${options.secureToken}") { return 401; } }`;
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 128; }
http {
  log_format bundles '$status "$http_if_none_match" $uri "$http_authorization"';
  log_format prefer '$status $uri "$http_prefer"';
  access_log ${prefix}/access.log bundles;
  access_log ${prefix}/prefer.log prefer;
  map $http_prefer $delta_root { "~modes=[^;]*delta" /delta; default /no-delta; }
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  types { application/gzip gz; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port}${tls === undefined ? '' : ' ssl'};
    ${tlsLines}
    root ${www};
    ${secure}
    location /deltas/ { try_files $delta_root$uri $uri =404; }
    ${Object.entries(options.redirects ?? {}).map(([from, to]) => `location = ${from} { return 302 ${to}; }`).join('\n    ')}
  }
}
`,
  );
  const child: ChildProcess = spawn(binary, ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', join(prefix, 'nginx.conf')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      // Listening is enough (https is not verified here): a TCP connection that opens.
      await new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.end();
          resolve();
        });
        socket.once('error', reject);
      });
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`nginx did not start: ${existsSync(join(prefix, 'error.log')) ? readFileSync(join(prefix, 'error.log'), 'utf8') : ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    port,
    publish(path: string, content: Buffer): void {
      const target = join(www, path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(`${target}.tmp`, content);
      // nginx's ETag is mtime and size: each publication gets a later second, so it always changes.
      const when = Math.floor(Date.now() / 1000) + ++mtimeStep;
      utimesSync(`${target}.tmp`, when, when);
      renameSync(`${target}.tmp`, target);
    },
    accessLog(): string[] {
      const path = join(prefix, 'access.log');
      return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((line) => line !== '') : [];
    },
    preferLog(): string[] {
      const path = join(prefix, 'prefer.log');
      return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((line) => line !== '') : [];
    },
    async stop(): Promise<void> {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
