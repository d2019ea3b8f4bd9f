// A real OCI registry on 127.0.0.1 (go-containerregistry's in-memory `registry`), bundles pushed to it with the
// real `oras` as OPA's docs push them, and a gate in front of it that logs every request and can demand the
// distribution token flow (a 401 with a Bearer challenge, a token realm) or tamper with blobs on the way.
// Both tools are pinned in scripts/tools.mjs; without them (no Go) the OCI tests are skipped, loudly.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TOOLS_BIN } from './tools.js';

export const BUNDLE_LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';

/** The paths of registry and oras, installed by scripts/tools.mjs when absent; undefined if they cannot be. */
export function ociToolPaths(): { registry: string; oras: string } | undefined {
  const paths = { registry: join(TOOLS_BIN, 'registry'), oras: join(TOOLS_BIN, 'oras') };
  if (!existsSync(paths.registry) || !existsSync(paths.oras)) {
    try {
      execFileSync(process.execPath, [join(ROOT, 'scripts', 'tools.mjs'), 'registry', 'oras'], { stdio: 'inherit' });
    } catch {
      return undefined;
    }
  }
  return existsSync(paths.registry) && existsSync(paths.oras) ? paths : undefined;
}

export interface OciRegistry {
  /** 127.0.0.1:<port>, as a reference names the registry. */
  readonly host: string;
  /** Pushes `bundle` as OPA's docs do (an empty config, the tarball as the bundle layer); returns the manifest digest. */
  push(reference: string, bundle: Buffer, layerType?: string): string;
  /** An image index over `manifests` (references), tagged `reference`: not a bundle's manifest. */
  pushIndex(reference: string, manifests: string[]): void;
  stop(): Promise<void>;
}

export async function startOciRegistry(): Promise<OciRegistry> {
  const tools = ociToolPaths();
  if (tools === undefined) throw new Error('registry and oras are not installed (node scripts/tools.mjs registry oras)');
  const child: ChildProcess = spawn(tools.registry, ['-port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`registry did not start: ${output}`)), 10_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const found = /serving on port (\d+)/.exec(output);
      if (found) {
        clearTimeout(timer);
        resolve(Number(found[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`registry exited (${code}): ${output}`)));
  });
  child.stderr!.resume();
  const host = `127.0.0.1:${port}`;
  const work = mkdtempSync(join(tmpdir(), 'meshwarden-oras-'));
  writeFileSync(join(work, 'config.json'), '{}');
  const oras = (args: string[]): string => execFileSync(tools.oras, args, { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    host,
    push(reference, bundle, layerType = BUNDLE_LAYER_TYPE) {
      writeFileSync(join(work, 'bundle.tar.gz'), bundle);
      const out = oras(['push', '--plain-http', `${host}/${reference}`, '--config', `config.json:${CONFIG_TYPE}`, `bundle.tar.gz:${layerType}`]);
      const digest = /Digest: (sha256:[a-f0-9]{64})/.exec(out)?.[1];
      if (digest === undefined) throw new Error(`oras push printed no digest: ${out}`);
      return digest;
    },
    pushIndex(reference, manifests) {
      const [repository] = reference.split(':');
      oras(['manifest', 'index', 'create', '--plain-http', `${host}/${reference}`, ...manifests.map((manifest) => `${host}/${repository}:${manifest}`)]);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}

export interface GateRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string;
  readonly status: number;
  /** Every header of the request (lower-case names). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface RegistryGate {
  /** http://127.0.0.1:<port>: the service url to configure. */
  readonly url: string;
  /** 127.0.0.1:<port>, as a reference names the registry. */
  readonly host: string;
  readonly requests: GateRequest[];
  /** Flips a byte of every blob passed on while set (a registry or a path that lies). */
  tamperBlobs: boolean;
  stop(): Promise<void>;
}

/**
 * Passes requests on to `registryHost`. With `credential` set, /v2/ answers 401 with a Bearer challenge unless
 * the request carries the token that /token issues, and /token issues it only to `Authorization: <credential>`.
 */
export async function startRegistryGate(registryHost: string, options: { credential?: string } = {}): Promise<RegistryGate> {
  const issued = `registry-token-${Math.random().toString(36).slice(2)}`;
  const requests: GateRequest[] = [];
  const gate = {
    url: '',
    host: '',
    requests,
    tamperBlobs: false,
    stop: async () => {},
  };
  const server: Server = createServer((incoming: IncomingMessage, response) => {
    const url = new URL(incoming.url ?? '/', 'http://gate');
    const authorization = incoming.headers.authorization ?? '';
    const log = (status: number): void => {
      requests.push({ method: incoming.method ?? '', path: `${url.pathname}${url.search}`, authorization, status, headers: { ...incoming.headers } });
    };
    if (url.pathname === '/token') {
      const ok = authorization === options.credential;
      log(ok ? 200 : 401);
      response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(ok ? JSON.stringify({ token: issued, expires_in: 300 }) : '{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    if (options.credential !== undefined && authorization !== `Bearer ${issued}`) {
      const repository = /^\/v2\/(.+)\/(manifests|blobs)\//.exec(url.pathname)?.[1] ?? '';
      log(401);
      response
        .writeHead(401, { 'www-authenticate': `Bearer realm="${gate.url}/token",service="meshwarden-test-registry",scope="repository:${repository}:pull"`, 'content-type': 'application/json' })
        .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const headers = { ...incoming.headers, host: registryHost };
    delete headers.authorization;
    const upstream = httpRequest(`http://${registryHost}${incoming.url}`, { method: incoming.method, headers }, (answer) => {
      log(answer.statusCode ?? 0);
      const tamper = gate.tamperBlobs && url.pathname.includes('/blobs/') && incoming.method === 'GET';
      if (!tamper) {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        if (body.length > 0) body[body.length - 1] = body[body.length - 1]! ^ 0xff;
        response.writeHead(answer.statusCode ?? 502, answer.headers).end(body);
      });
    });
    upstream.on('error', () => {
      log(502);
      response.writeHead(502).end();
    });
    incoming.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  gate.url = `http://127.0.0.1:${port}`;
  gate.host = `127.0.0.1:${port}`;
  gate.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return gate;
}
