// The Unix socket transport: the checks of shared/trust.ts before connecting (the socket's
// folder is ours and private, the socket was bound by us or root, so the listener runs as us
// or root), then a plain connection.
import { connect, type Socket } from 'node:net';
import type { Transport } from './transports.js';
import { checkSocketPath, createSocketFolder } from './trust.js';

/** A node:net connection to `path`, resolved once connected. */
export function netConnect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export const unixSocketTransport: Transport = {
  check: checkSocketPath,
  prepare: createSocketFolder,
  connect: (path) => {
    checkSocketPath(path);
    return netConnect(path);
  },
};
