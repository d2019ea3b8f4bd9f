// A worker's side of the listening addresses: the connections its primary accepted and handed over, given to
// the worker's listeners as if they had accepted them. Each is answered at once (taken, or refused while the
// listener is not there or closed), so the primary knows which ones it may still give to another worker.
import type { Server, Socket } from 'node:net';
import type { ConnectionSource, HandedListener } from '../listeners/connection-source.js';
import { isMessage, LISTENER_PORTS_VARIABLE, type AcceptingMessage, type ConnectionMessage, type ConnectionTakenMessage } from './messages.js';

interface Attached {
  server: Server;
  maxConnections: number;
  open: Set<Socket>;
}

/** The ports the primary listens on, from the variable it forked this worker with. */
export function listenerPortsOf(env: NodeJS.ProcessEnv): Partial<Record<HandedListener, number>> {
  const text = env[LISTENER_PORTS_VARIABLE];
  if (text === undefined) return {};
  const parsed = JSON.parse(text) as Partial<Record<HandedListener, number>>;
  return parsed;
}

/** Listens on the IPC channel for handed connections at once (before any listener attaches, they are refused). */
export function receiveHandedConnections(ports: Readonly<Partial<Record<HandedListener, number>>>): ConnectionSource {
  const attached = new Map<HandedListener, Attached>();
  const send = (message: ConnectionTakenMessage | AcceptingMessage): void => {
    if (process.connected) process.send?.(message);
  };
  process.on('message', (message: unknown, handle: unknown) => {
    if (!isMessage<ConnectionMessage>(message, 'meshwarden:connection')) return;
    const socket = handle as Socket | undefined;
    const target = attached.get(message.listener);
    if (socket === undefined || target === undefined) {
      socket?.destroy(); // the primary's own copy stays open for another worker
      send({ type: 'meshwarden:connection-taken', id: message.id, taken: false });
      return;
    }
    send({ type: 'meshwarden:connection-taken', id: message.id, taken: true });
    if (target.open.size >= target.maxConnections) {
      // As net.Server's maxConnections: closed as it arrives, and the listener's 'drop' logs it.
      socket.destroy();
      target.server.emit('drop', { localAddress: socket.localAddress, localPort: socket.localPort, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort });
      return;
    }
    target.open.add(socket);
    socket.once('close', () => target.open.delete(socket));
    target.server.emit('connection', socket);
  });
  return {
    attach(listener: HandedListener, server: Server, maxConnections: number): number {
      const port = ports[listener];
      if (port === undefined) throw new Error(`the primary hands over no ${listener} connections`);
      attached.set(listener, { server, maxConnections, open: new Set() });
      // node:http starts checking its header and request timeouts when its server starts listening: this one
      // never listens itself, so it is told it does (a listener without those checks would hold a slow client).
      server.emit('listening');
      server.once('close', () => {
        attached.delete(listener);
        send({ type: 'meshwarden:accepting', listener, accepting: false });
      });
      send({ type: 'meshwarden:accepting', listener, accepting: true });
      return port;
    },
  };
}
