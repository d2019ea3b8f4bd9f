// The primary's side of the listening addresses: it binds them itself, for its whole life, accepts every
// connection (paused: it never reads a byte) and hands each to the next worker in turn that serves a policy.
// A connection stays open in the primary until its worker says it took it, so a worker that dies first
// loses nothing: its untaken connections go to another worker.
//
// Why not node:cluster's own round-robin: it forgets a connection it was handing to a worker that died
// (the handle is neither closed nor handed to another, so the client waits on an open connection no one
// reads), and it closes the listening socket when the last worker holding it dies, while its replacement
// is still starting: the port is then refused, and a port 0 is bound again elsewhere (issue 12).
import type { Worker } from 'node:cluster';
import { createServer, type Server, type Socket } from 'node:net';
import { listen, type Address } from '../listeners/address.js';
import type { HandedListener } from '../listeners/connection-source.js';
import type { Logger } from '../logger.js';
import { isMessage, type AcceptingMessage, type ConnectionMessage, type ConnectionTakenMessage } from './messages.js';

/** Connections waiting for a worker at most: beyond it, new ones are closed (the client connects again). */
const MAX_WAITING = 1024;
/** A connection no worker took within this long is closed: its client has given up by now. */
const MAX_WAIT_MS = 10_000;
/** A connection refused this many times (every worker stopping) is closed. */
const MAX_TRIES = 8;

interface HandedConnection {
  readonly id: number;
  readonly listener: HandedListener;
  readonly socket: Socket;
  readonly accepted: number;
  tries: number;
  /** The worker it was sent to and has not answered yet, and when. */
  worker?: Worker;
  sentAt?: number;
}

export interface ConnectionHandoff {
  /** The ports bound (useful with port 0), for the workers to report. */
  readonly ports: Readonly<Partial<Record<HandedListener, number>>>;
  /** Follows a forked worker: what it takes, refuses and, when it dies, left untaken. */
  follow(worker: Worker): void;
  /** Whether `worker` gets connections: only once it serves a policy (a worker still starting would deny). */
  setServing(worker: Worker, serving: boolean): void;
  /** Stops accepting and closes every connection not taken yet (those the workers took are theirs to close). */
  close(): void;
}

export async function startConnectionHandoff(addresses: Readonly<Partial<Record<HandedListener, Address>>>, logger: Logger): Promise<ConnectionHandoff> {
  const log = logger.child({ component: 'connection_handoff' });
  const servers = new Map<HandedListener, Server>();
  const ports: Partial<Record<HandedListener, number>> = {};
  const waiting: HandedConnection[] = [];
  const sent = new Map<number, HandedConnection>();
  /** Workers that take each listener's connections, in the order they are handed them. */
  const accepting = new Map<HandedListener, Set<Worker>>([['grpc', new Set()], ['http', new Set()]]);
  const serving = new Set<Worker>();
  const next = new Map<HandedListener, number>();
  let nextId = 1;
  let closed = false;
  let sweep: NodeJS.Timeout | undefined;

  const drop = (connection: HandedConnection, why: string): void => {
    connection.socket.destroy();
    log.warn({ listener: connection.listener, tries: connection.tries, reason: why }, 'a connection no worker took was closed');
  };

  /** The next worker in turn that serves and takes `listener`'s connections. */
  const pick = (listener: HandedListener): Worker | undefined => {
    const candidates = [...accepting.get(listener)!].filter((worker) => serving.has(worker) && worker.isConnected());
    if (candidates.length === 0) return undefined;
    const turn = (next.get(listener) ?? 0) % candidates.length;
    next.set(listener, turn + 1);
    return candidates[turn];
  };

  const hand = (): void => {
    for (let index = 0; index < waiting.length; ) {
      const connection = waiting[index]!;
      const worker = pick(connection.listener);
      if (worker === undefined) {
        index++;
        continue;
      }
      waiting.splice(index, 1);
      connection.worker = worker;
      connection.sentAt = Date.now();
      connection.tries++;
      sent.set(connection.id, connection);
      const message: ConnectionMessage = { type: 'meshwarden:connection', id: connection.id, listener: connection.listener };
      // keepOpen: the primary's own descriptor stays open until the worker says it took the connection.
      worker.send(message, connection.socket, { keepOpen: true }, (error: Error | null) => {
        if (error !== null && sent.get(connection.id) === connection) retry(connection);
      });
    }
    if (waiting.length + sent.size > 0 && sweep === undefined) {
      sweep = setInterval(expire, 500);
      sweep.unref();
    }
  };

  const retry = (connection: HandedConnection): void => {
    sent.delete(connection.id);
    delete connection.worker;
    if (closed) return void connection.socket.destroy();
    if (connection.tries >= MAX_TRIES) return drop(connection, 'refused by every worker');
    waiting.unshift(connection);
    hand();
  };

  const expire = (): void => {
    const now = Date.now();
    for (let index = waiting.length - 1; index >= 0; index--) {
      if (now - waiting[index]!.accepted < MAX_WAIT_MS) continue;
      drop(waiting.splice(index, 1)[0]!, 'no worker served in time');
    }
    // A worker that neither answers nor dies (stuck) holds nothing for ever either.
    for (const connection of [...sent.values()]) {
      if (now - connection.sentAt! < MAX_WAIT_MS) continue;
      sent.delete(connection.id);
      drop(connection, 'its worker did not answer in time');
    }
    if (waiting.length + sent.size === 0) {
      clearInterval(sweep);
      sweep = undefined;
    }
  };

  const accept = (listener: HandedListener, socket: Socket): void => {
    if (closed) return void socket.destroy();
    if (waiting.length >= MAX_WAITING) {
      socket.destroy();
      log.warn({ listener, waiting: waiting.length }, 'a connection was closed: too many wait for a worker');
      return;
    }
    waiting.push({ id: nextId++, listener, socket, accepted: Date.now(), tries: 0 });
    hand();
  };

  /** A worker that is gone took nothing it did not say it took: that goes to another worker. */
  const forget = (worker: Worker): void => {
    serving.delete(worker);
    for (const set of accepting.values()) set.delete(worker);
    for (const connection of [...sent.values()]) if (connection.worker === worker) retry(connection);
  };

  for (const [listener, address] of Object.entries(addresses) as [HandedListener, Address][]) {
    const server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => accept(listener, socket));
    try {
      ports[listener] = await listen(server, address, listener === 'grpc' ? 'gRPC' : 'HTTP ext_authz');
    } catch (error) {
      for (const open of servers.values()) open.close();
      throw error;
    }
    servers.set(listener, server);
  }

  return {
    ports,
    follow(worker: Worker): void {
      worker.on('message', (message: unknown) => {
        if (isMessage<ConnectionTakenMessage>(message, 'meshwarden:connection-taken')) {
          const connection = sent.get(message.id);
          if (connection === undefined || connection.worker !== worker) return;
          if (!message.taken) return retry(connection);
          sent.delete(message.id);
          // The worker holds its own descriptor: closing this one leaves the connection open.
          connection.socket.destroy();
        } else if (isMessage<AcceptingMessage>(message, 'meshwarden:accepting')) {
          if (message.accepting) accepting.get(message.listener)?.add(worker);
          else accepting.get(message.listener)?.delete(worker);
          hand();
        }
      });
      // 'disconnect' comes once the channel is read to its end: every answer the worker sent is in.
      worker.once('disconnect', () => forget(worker));
      worker.once('exit', () => forget(worker));
    },
    setServing(worker: Worker, isServing: boolean): void {
      if (isServing) serving.add(worker);
      else serving.delete(worker);
      hand();
    },
    close(): void {
      closed = true;
      clearInterval(sweep);
      // Not awaited: node:net's close would wait for the connections the workers took to end too.
      for (const server of servers.values()) server.close();
      for (const connection of waiting.splice(0)) connection.socket.destroy();
      for (const connection of sent.values()) connection.socket.destroy();
      sent.clear();
    },
  };
}
