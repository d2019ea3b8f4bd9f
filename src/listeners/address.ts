// Listening addresses: HOST:PORT parsed and written, a node:net (or node:http) server bound to one, and a failed
// bind told in one line.
import type { Server } from 'node:net';
import { ConfigError, describeError } from '../errors.js';

export interface Address {
  host: string;
  port: number;
}

export function parseAddress(text: string): Address | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):([0-9]{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** `host:port` for grpc-js, with IPv6 hosts in brackets. */
export function formatAddress(address: Address): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/**
 * A bind that failed as one start-up problem (a ConfigError, so the same exit code as every other): what could
 * not listen where, and why in words, from Node's error code or grpc-js's message (which only embeds it).
 */
export function listenProblem(purpose: string, address: Address, error: unknown): ConfigError {
  const text = `${(error as { code?: unknown } | null)?.code ?? ''} ${describeError(error)}`;
  const why = /EADDRINUSE/.test(text)
    ? 'the address is already in use'
    : /EADDRNOTAVAIL/.test(text)
      ? 'the host is not an address of this machine'
      : /EACCES|EPERM/.test(text)
        ? 'permission denied (ports below 1024 need privileges)'
        : /ENOTFOUND|EAI_AGAIN|Name resolution failed/.test(text)
          ? `the host "${address.host}" does not resolve`
          : describeError(error);
  return new ConfigError([`cannot listen for ${purpose} on ${formatAddress(address)}: ${why}`]);
}

/** Binds a node:net or node:http server and reports the port actually bound (port 0 picks a free one). */
export async function listen(server: Server, address: Address, purpose = 'HTTP'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(listenProblem(purpose, address, error)));
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  return typeof bound === 'object' && bound !== null ? bound.port : address.port;
}
