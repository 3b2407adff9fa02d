// The Windows named pipe transport (\\.\pipe\codexd-<user>). Anyone can create a pipe name first
// (pipe squatting), and whoever serves it would receive API keys and hand out tokens of their own:
// so before anything is sent, the process serving the pipe must run as this user, as the owner of
// a Unix socket must be (GetNamedPipeServerProcessId, then its token's user SID; docs/windows.md).
import type { Socket } from 'node:net';
import { SocketRefusedError } from './errors.js';
import type { Transport } from './transports.js';
import { netConnect } from './unix-socket.js';
import { currentUserSid, pipeServer } from './win32.js';

/** Who serves a named pipe and who we are, as SIDs; injectable, so that a forged answer can be tested. */
export interface PipeIdentity {
  server(pipe: string): { pid: number; sid: string };
  me(): string;
}

const windowsIdentity: PipeIdentity = { server: pipeServer, me: currentUserSid };

function refuse(pipe: string, why: string): never {
  throw new SocketRefusedError(`refusing to use the socket ${pipe}: ${why}; nothing was sent`);
}

/**
 * Throws SocketRefusedError unless the process serving `pipe` runs as this user. A pipe nobody
 * serves throws an ENOENT error (EBUSY when every instance stays busy), as connecting to it would.
 */
export function checkPipeServer(pipe: string, identity: PipeIdentity = windowsIdentity): void {
  let server: { pid: number; sid: string };
  try {
    server = identity.server(pipe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EBUSY') throw error;
    refuse(pipe, `cannot tell which user serves it (${(error as Error).message})`);
  }
  const me = identity.me();
  if (server.sid !== me) refuse(pipe, `it is served by process ${server.pid}, which runs as the user ${server.sid}, not as you (${me})`);
}

export const namedPipeTransport: Transport = {
  check: () => true,
  prepare: () => undefined,
  connect: (pipe: string): Promise<Socket> => {
    try {
      checkPipeServer(pipe);
    } catch (error) {
      return Promise.reject(error);
    }
    return netConnect(pipe);
  },
};
