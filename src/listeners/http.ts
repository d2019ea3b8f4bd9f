// Envoy's HTTP ext_authz service (envoyExtAuthzHttp): the same input, policy and fail-closed answers as the
// gRPC Check, over plain HTTP. Envoy forwards the request's method, path (after its path_prefix), headers and,
// when buffering is on, body; 200 means allow, any other 2xx/3xx/4xx is a deny, 5xx an error.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnswerCheck } from '../check/answer.js';
import type { DecodedCheckRequest } from '../envoy/codec.js';
import type { Attributes, CheckResponse, HeaderValueOption } from '../envoy/types.js';
import type { FailureReason } from '../errors.js';
import { isXfccError, parseXfcc } from '../identity/xfcc.js';
import type { Logger } from '../logger.js';
import type { TlsSource } from '../tls/source.js';
import { formatAddress, listen, type Address } from './address.js';
import type { BufferBudget } from './buffer-budget.js';
import { capConnections } from './connection-cap.js';
import type { ConnectionSource } from './connection-source.js';
import { createListenerServer } from './http-server.js';

export interface HttpServiceOptions {
  address: Address;
  answer: AnswerCheck;
  logger: Logger;
  /** Opt-in: the identities come from the last x-forwarded-client-cert element (HTTP mode has no peer principals). */
  xfcc: boolean;
  /** Istio's pathPrefix (Envoy's path_prefix): stripped to recover the original path. */
  pathPrefix: string;
  maxRequestBytes: number;
  /** The Check path's limits (check/limits.ts): the listener reads at least this much of every request head. */
  maxPathBytes: number;
  maxHeaderBytes: number;
  maxHeaderCount: number;
  /** TLS (and mutual TLS with its SPIFFE allow-list) from --tls-*; plain HTTP when undefined. */
  tls?: TlsSource | undefined;
  /** Connections beyond this many are closed as they arrive. */
  maxConnections: number;
  /** The whole request (headers and body) must arrive within this; then node answers 408 and closes. */
  callTimeoutMs: number;
  /** A keep-alive connection without a request for this long is closed. */
  idleTimeoutMs: number;
  /** Connections handed over by a primary (a worker of --workers N) instead of binding `address`. */
  connections?: ConnectionSource | undefined;
  /** The bytes unfinished requests may hold together, shared with the gRPC listener; a body past it is denied. */
  budget: BufferBudget;
}

/**
 * HTTP mode carries no peer principals. With XFCC enabled, the element the local proxy appended (the last)
 * names that proxy in `By`: the destination workload, which gRPC mode gets as destination.principal.
 */
function destinationFromXfcc(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const elements = parseXfcc(header);
  if (isXfccError(elements)) return undefined;
  const by = (elements.at(-1) ?? []).filter((pair) => pair.key === 'by');
  return by.length === 1 && by[0]!.value !== '' ? by[0]!.value : undefined;
}

export interface HttpService {
  readonly port: number;
  /** Stops accepting connections, lets requests in flight finish for up to graceMs, then closes every connection. */
  close(graceMs: number): Promise<void>;
}

const DENY_FALLBACK_STATUS = 403;

/**
 * A deny must reach Envoy as a deny: 200 would allow, and a 5xx is an error, which Envoy lets through when
 * failOpen is set. Such statuses become 403 (the reason header still says why).
 */
export function httpDenyStatus(status: number): number {
  return status === 200 || status >= 500 || status < 200 ? DENY_FALLBACK_STATUS : status;
}

/** Envoy's HTTP check request → CheckRequest attributes, as Envoy would have sent them over gRPC. */
export function attributesFromHttp(request: IncomingMessage, body: Buffer, pathPrefix: string, received: Date, xfcc: boolean): Attributes {
  // Prototype-less, so `constructor` is not found before it is sent and `__proto__` is a header like any other.
  const headers = Object.create(null) as Record<string, string>;
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const key = request.rawHeaders[i]!.toLowerCase();
    const value = request.rawHeaders[i + 1]!;
    // Envoy joins repeated headers with a comma in the gRPC header map (E-6).
    headers[key] = Object.hasOwn(headers, key) ? `${headers[key]},${value}` : value;
  }
  const url = request.url ?? '/';
  const path = pathPrefix !== '' && url.startsWith(pathPrefix) ? url.slice(pathPrefix.length) || '/' : url;
  const host = headers['host'] ?? '';
  const method = request.method ?? '';
  headers[':authority'] = host;
  headers[':method'] = method;
  headers[':path'] = path;
  const socket = request.socket;
  const millis = received.getTime();
  const destinationPrincipal = xfcc ? destinationFromXfcc(headers['x-forwarded-client-cert']) : undefined;
  return {
    source: { address: { socketAddress: { address: socket.remoteAddress ?? '', portValue: socket.remotePort ?? 0 } } },
    destination: {
      address: { socketAddress: { address: socket.localAddress ?? '', portValue: socket.localPort ?? 0 } },
      ...(destinationPrincipal === undefined ? {} : { principal: destinationPrincipal }),
    },
    request: {
      time: { seconds: Math.floor(millis / 1000), nanos: (millis % 1000) * 1_000_000 },
      http: {
        method,
        headers,
        path,
        host,
        scheme: 'http',
        protocol: `HTTP/${request.httpVersion}`,
        ...(body.length > 0 ? { body: body.toString('utf8'), size: body.length } : {}),
      },
    },
  };
}

function setHeaders(response: ServerResponse, options: HeaderValueOption[] | undefined): void {
  for (const option of options ?? []) {
    const { key, value } = option.header;
    const existing = response.getHeader(key);
    if (option.append.value && existing !== undefined) {
      response.setHeader(key, [...(Array.isArray(existing) ? existing : [String(existing)]), value]);
    } else {
      response.setHeader(key, value);
    }
  }
}

/**
 * Writes a CheckResponse as Envoy's HTTP service contract expects it. Headers a failed attempt set are
 * cleared first, so the fail-closed deny that follows a throw carries only its own.
 */
export function writeCheckResponse(response: ServerResponse, check: CheckResponse): void {
  for (const name of response.getHeaderNames()) response.removeHeader(name);
  if (check.status.code === 0) {
    const ok = check.okResponse;
    setHeaders(response, ok?.headers);
    setHeaders(response, ok?.responseHeadersToAdd);
    if (ok?.headersToRemove && ok.headersToRemove.length > 0) response.setHeader('x-envoy-auth-headers-to-remove', ok.headersToRemove.join(', '));
    response.writeHead(200).end();
    return;
  }
  const denied = check.deniedResponse;
  setHeaders(response, denied?.headers);
  response.setHeader('content-type', 'text/plain; charset=utf-8');
  response.writeHead(httpDenyStatus(denied?.status.code ?? DENY_FALLBACK_STATUS)).end(denied?.body ?? '');
}

/**
 * How much of a request head node:http reads: everything the Check path's limits allow (the request line, each
 * header line's `: ` and CRLF), so a request within them is read whole and one beyond them is denied.
 */
export function headSizeLimit(options: Pick<HttpServiceOptions, 'maxPathBytes' | 'maxHeaderBytes' | 'maxHeaderCount'>): number {
  return options.maxPathBytes + options.maxHeaderBytes + 4 * options.maxHeaderCount + 1024;
}

// node:http's answers to a request it cannot read (its own choices, with our reason header added).
const UNREADABLE_STATUS: Readonly<Record<string, { status: number; text: string; reason: FailureReason }>> = {
  HPE_HEADER_OVERFLOW: { status: 431, text: 'Request Header Fields Too Large', reason: 'headers_too_large' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, text: 'Payload Too Large', reason: 'request_too_large' },
  // headersTimeout or requestTimeout (the call time bound) passed before the request was whole.
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, text: 'Request Timeout', reason: 'call_timeout' },
};
const UNPARSABLE = { status: 400, text: 'Bad Request', reason: 'malformed_request' as FailureReason };

/** A request node:http could not read is a deny with a reason (as node:http would answer, plus the reason header). */
function answerUnreadable(error: Error & { code?: string }, socket: Duplex): void {
  // As node:http's own handler: nothing is written over a response already under way (its bytes would be mixed).
  const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || current?.headersSent === true) {
    socket.destroy();
    return;
  }
  const { status, text, reason } = UNREADABLE_STATUS[error.code ?? ''] ?? UNPARSABLE;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\nx-ext-authz-reason: ${reason}\r\ncontent-length: ${reason.length}\r\n\r\n${reason}`);
}

/** node:http checks its header and request timeouts only this often (30 s by default, far past ours). */
export function timeoutCheckIntervalMs(timeoutMs: number): number {
  return Math.max(10, Math.min(1000, Math.floor(timeoutMs / 4)));
}

export async function startHttpService(options: HttpServiceOptions): Promise<HttpService> {
  const limits = {
    // A client that sends its headers or body slowly (or half of them and stops) holds the buffered bytes
    // only this long. Node answers 408 itself, a deny for Envoy, never a 5xx.
    headersTimeout: options.callTimeoutMs,
    requestTimeout: options.callTimeoutMs,
    keepAliveTimeout: options.idleTimeoutMs,
    connectionsCheckingInterval: timeoutCheckIntervalMs(options.callTimeoutMs),
    maxHeaderSize: headSizeLimit(options),
  };
  const { budget } = options;
  const server: Server = createListenerServer(limits, (request, response) => {
    const received = new Date();
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    // The body is held in the buffer budget: reserved at its content-length when it has one, else as it
    // grows, at most --max-request-bytes (the rest of a larger body is dropped as it arrives).
    const length = request.headers['content-length'];
    const declared = length === undefined ? undefined : Number(length);
    let reserved = 0;
    let refused = false;
    const fits = (bytes: number): boolean => {
      const wanted = Math.min(bytes, options.maxRequestBytes);
      if (wanted <= reserved) return true;
      if (!budget.tryReserve(wanted - reserved, reserved)) return false;
      if (reserved === 0) response.once('close', () => budget.release(reserved));
      reserved = wanted;
      return true;
    };
    // Denied at once, and nothing more of the body is read: the answer goes out while the request stays
    // paused, until the call time bound closes the connection. Closing it at once, with unread bytes, would
    // reset it, and a reset can lose the answer, which Envoy treats as an error (allowed under
    // failure_mode_allow); reading the rest to drop it would churn the heap for the bytes the budget refused.
    const refuse = (): void => {
      refused = true;
      chunks.length = 0;
      request.pause();
      options.logger.warn({ reason: 'buffer_budget_exceeded', declared_bytes: declared ?? size, held_bytes: budget.heldBytes, max_buffered_bytes: budget.maxBytes }, 'an HTTP check body did not fit in the buffer budget; denied');
      const decoded: DecodedCheckRequest = { kind: 'rejected', reason: 'buffer_budget_exceeded', byteLength: declared ?? size, error: 'the buffer budget has no room for the request body' };
      options.answer(decoded, Infinity, (outcome) => writeCheckResponse(response, outcome.response));
    };
    if (declared !== undefined && Number.isSafeInteger(declared) && !fits(declared)) {
      refuse();
      return;
    }
    request.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > options.maxRequestBytes) tooLarge = true;
      else if (fits(size)) chunks.push(chunk);
      else refuse();
    });
    request.on('error', () => response.destroy());
    request.on('end', () => {
      if (refused) return;
      // node:http keeps one header line more than the limit (maxHeadersCount below), so a request with more is
      // known to have more and is denied: it is never decided on the prefix that was kept.
      const headerLines = request.rawHeaders.length / 2;
      const decoded: DecodedCheckRequest = tooLarge
        ? { kind: 'too_large', byteLength: size }
        : headerLines > options.maxHeaderCount
          ? { kind: 'rejected', reason: 'headers_too_large', byteLength: size, error: `more than ${options.maxHeaderCount} header lines` }
          : { kind: 'request', attributes: attributesFromHttp(request, Buffer.concat(chunks), options.pathPrefix, received, options.xfcc), byteLength: size };
      // Envoy's HTTP check carries no deadline (its default timeout is 200 ms): verification gets the default budget.
      options.answer(decoded, Infinity, (outcome) => writeCheckResponse(response, outcome.response));
    });
  }, options.tls, options.logger, 'HTTP ext_authz');
  capConnections(server, options.maxConnections, 'http', options.logger);
  // node:http drops header lines past maxHeadersCount without a word (2,000 fields by default).
  server.maxHeadersCount = options.maxHeaderCount + 1;
  server.on('clientError', answerUnreadable);
  // Its own count of open connections: node:http's (and so server.close()'s callback) counts only those it
  // accepted itself, not the ones a primary hands over.
  const open = new Set<Duplex>();
  server.on('connection', (socket: Duplex) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  const port = options.connections === undefined ? await listen(server, options.address, 'HTTP ext_authz') : options.connections.attach('http', server, options.maxConnections);
  options.logger.info({ address: formatAddress({ ...options.address, port }), path_prefix: options.pathPrefix }, 'HTTP ext_authz service listening');
  return {
    port,
    close: (graceMs: number) =>
      new Promise<void>((resolve) => {
        // server.close() closes the connections idle at that moment; a keep-alive connection whose answer
        // goes out later becomes idle then, so idle ones are closed again until none is left.
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        const timer = setTimeout(() => {
          options.logger.warn({ grace_ms: graceMs }, 'HTTP requests did not finish in time; closing their connections');
          server.closeAllConnections();
          // And what node:http does not hold yet (a TLS handshake under way).
          for (const socket of open) socket.destroy();
        }, graceMs);
        server.close();
        const closed = setInterval(() => {
          if (open.size > 0) return;
          clearInterval(closed);
          clearInterval(idle);
          clearTimeout(timer);
          resolve();
        }, 20);
      }),
  };
}
