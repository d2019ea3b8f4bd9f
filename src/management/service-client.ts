// Requests to one of the config file's services (bundle servers, log and status receivers), with its headers,
// bearer token and TLS as OPA sends them, each bounded in time and in the bytes of the answer held.
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ConfigError, describeError } from '../errors.js';
import type { ServiceSetting } from './config-file.js';

export interface ServiceRequest {
  method: 'GET' | 'HEAD' | 'POST';
  /** The resource below the service's URL (`bundles/authz.tar.gz`, `/logs`). */
  resource: string;
  /**
   * An absolute URL to send to instead of the service's URL and `resource` (an OCI registry's API below the
   * service's origin, its token realm). The service's TLS settings and credentials apply all the same.
   */
  url?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** How long the service may take to send its response headers (long polling adds its wait). */
  headerTimeoutMs: number;
  /** Bytes of response body held at most; a larger answer fails the request. */
  maxBodyBytes: number;
  signal?: AbortSignal;
}

export interface ServiceResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ServiceClient {
  readonly service: ServiceSetting;
  /** The URL of a resource, as OPA joins it: the service's URL, one slash, the resource. */
  urlOf(resource: string): string;
  send(request: ServiceRequest): Promise<ServiceResponse>;
  close(): void;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
// Go's http.Client stops after 10 redirects.
const MAX_REDIRECTS = 10;

/** A request that failed before a complete answer (connection, timeout, oversize body); `message` is for the log. */
export class ServiceRequestError extends Error {
  override readonly name = 'ServiceRequestError';
}

/** Builds the client; the TLS files are read now, so a missing one is a start-up problem naming its key. */
export function createServiceClient(service: ServiceSetting): ServiceClient {
  const problems: string[] = [];
  const read = (path: string, key: string): Buffer | undefined => {
    try {
      return readFileSync(path);
    } catch (error) {
      problems.push(`services.${service.name}.${key}: ${path}: ${describeError(error)}`);
      return undefined;
    }
  };
  const https = service.url.startsWith('https:');
  const ca = service.caCert === undefined ? undefined : read(service.caCert, 'tls.ca_cert');
  const cert = service.clientTls === undefined ? undefined : read(service.clientTls.cert, 'credentials.client_tls.cert');
  const key = service.clientTls === undefined ? undefined : read(service.clientTls.privateKey, 'credentials.client_tls.private_key');
  if (problems.length > 0) throw new ConfigError(problems);
  if (!https && (service.clientTls !== undefined || service.caCert !== undefined)) {
    throw new ConfigError([`services.${service.name}: TLS settings need an https url (it is ${service.url})`]);
  }
  const agent = https
    ? new HttpsAgent({
        keepAlive: true,
        maxSockets: 4,
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
        ...(service.clientTls?.passphrase === undefined ? {} : { passphrase: service.clientTls.passphrase }),
        rejectUnauthorized: !service.allowInsecureTls,
      })
    : new HttpAgent({ keepAlive: true, maxSockets: 4 });
  const urlOf = (resource: string): string => `${service.url}/${resource.replace(/^\/+/, '')}`;

  /** One request and its answer, bounded in time and bytes; the service's agent (its TLS) for its own scheme. */
  const exchange = (url: string, headers: Record<string, string>, request: ServiceRequest): Promise<ServiceResponse> =>
    new Promise<ServiceResponse>((resolve, reject) => {
      const secure = url.startsWith('https:');
      const send = secure ? httpsRequest : httpRequest;
      let settled = false;
      const fail = (message: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        outgoing.destroy();
        reject(new ServiceRequestError(message));
      };
      const options = { method: request.method, headers, ...(secure === https ? { agent } : {}), ...(request.signal === undefined ? {} : { signal: request.signal }) };
      const outgoing = send(url, options, (response) => {
        clearTimeout(timer);
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > request.maxBodyBytes) fail(`the response is larger than ${request.maxBodyBytes} bytes`);
          else chunks.push(chunk);
        });
        response.on('error', (error) => fail(describeError(error)));
        response.on('aborted', () => fail('the response was cut short'));
        response.on('end', () => {
          if (settled) return;
          settled = true;
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) });
        });
      });
      // The header timeout; once headers arrive the body is bounded by size, and the socket by its own idle timeout.
      const timer = setTimeout(() => fail(`no response within ${request.headerTimeoutMs} ms`), request.headerTimeoutMs);
      outgoing.setTimeout(request.headerTimeoutMs + 30_000, () => fail('the connection went idle'));
      outgoing.on('error', (error) => fail(describeError(error)));
      outgoing.end(request.body);
    });

  return {
    service,
    urlOf,
    // async: a token file that cannot be read rejects like any other failed request.
    async send(request: ServiceRequest): Promise<ServiceResponse> {
      const headers: Record<string, string> = { ...service.headers, ...request.headers };
      // An authorization the caller sets (a registry's token) goes instead of the configured credential.
      const authorization = request.headers?.['authorization'] ?? bearerHeader(service);
      if (authorization !== undefined) headers['authorization'] = authorization;
      if (request.body !== undefined) headers['content-length'] = String(request.body.length);
      let url = request.url ?? urlOf(request.resource);
      // GETs (and HEADs) follow redirects as OPA's Go client does (bundle servers such as object stores send them), a
      // bounded number of times; the token goes only to the service's own origin, and https never drops to http.
      for (let hop = 0; ; hop++) {
        const response = await exchange(url, headers, request);
        const location = response.headers.location;
        if (request.method === 'POST' || !REDIRECT_STATUSES.has(response.status) || typeof location !== 'string') return response;
        if (hop >= MAX_REDIRECTS) throw new ServiceRequestError(`stopped after ${MAX_REDIRECTS} redirects`);
        const next = new URL(location, url);
        if (next.protocol !== 'https:' && (next.protocol !== 'http:' || url.startsWith('https:'))) throw new ServiceRequestError(`a redirect to ${next.protocol} is refused`);
        if (next.origin !== new URL(urlOf('')).origin) delete headers['authorization'];
        url = next.href;
      }
    },
    close: () => agent.destroy(),
  };
}

/** OPA's bearer credentials: `<scheme> <token>`, the token file read at every request (so a rotated token is used). */
function bearerHeader(service: ServiceSetting): string | undefined {
  const bearer = service.bearer;
  if (bearer === undefined) return undefined;
  let token = bearer.token;
  if (bearer.tokenPath !== undefined) {
    try {
      token = readFileSync(bearer.tokenPath, 'utf8').trim();
    } catch (error) {
      throw new ServiceRequestError(`services.${service.name}.credentials.bearer.token_path: ${describeError(error)}`);
    }
  }
  // OPA's bearer plugin sends an OCI registry the token base64-encoded (what registries such as ghcr.io expect
  // of a personal access token), and any other service the token as configured.
  return `${bearer.scheme} ${service.type === 'oci' ? Buffer.from(token ?? '', 'utf8').toString('base64') : (token ?? '')}`;
}
