// Binds a node:http server and reports the port actually bound (port 0 picks a free one).
import type { Server } from 'node:http';
import type { Address } from '../config.js';

export async function listen(server: Server, address: Address): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  return typeof bound === 'object' && bound !== null ? bound.port : address.port;
}
