// How a client reaches a codexd: one Transport per kind of endpoint. Every client (the one-request
// path, the library, autostart, the daemon's probe and a follower's upstream link) connects
// through transportFor(path), so a new kind of endpoint is taught here once. A transport's
// connect() answers for who is on the other end: it resolves only with a connection to a process
// of this user (or root), and rejects with SocketRefusedError, before anything is sent, otherwise.
import type { Socket } from 'node:net';
import { isWindowsPipe } from './paths.js';
import { namedPipeTransport } from './named-pipe.js';
import { unixSocketTransport } from './unix-socket.js';

export interface Transport {
  /**
   * Checks the endpoint before anything connects (throws SocketRefusedError when it must not be
   * used); false when nothing can listen there yet (its folder does not exist).
   */
  check(path: string): boolean;
  /** Makes what a daemon needs before it can listen at `path` (the socket's private folder). */
  prepare(path: string): void;
  /**
   * Connects after check(); resolves with a connection whose peer passed the trust checks. Rejects
   * with SocketRefusedError for an untrusted peer, or with the OS error (ENOENT, ECONNREFUSED…)
   * when nothing listens.
   */
  connect(path: string): Promise<Socket>;
}

export function transportFor(path: string): Transport {
  return isWindowsPipe(path) ? namedPipeTransport : unixSocketTransport;
}

/** Connects to the codexd at `path` with its transport's checks. */
export function openTrusted(path: string): Promise<Socket> {
  return transportFor(path).connect(path);
}
