// The running daemon's lifecycle: its status, the socket guard, the signals, and the shutdown
// order (stop watching, stop refreshing and logins, stop accepting on both sockets, let requests
// in flight finish, close connections, remove the sockets, release CODEX_HOME).
import type { Activation, DaemonStatus } from '../../shared/protocol.js';
import { VERSION } from '../../shared/version.js';
import type { Logger } from './log.js';
import type { RpcServer } from '../rpc/server.js';
import type { Settings } from './settings.js';
import { socketIsOurs, unlinkIfOurs } from './socket.js';
import { FileWatcher } from './watcher.js';

const DRAIN_TIMEOUT_MS = 10_000;

/** One socket the daemon serves on: the main one, or the restricted one. */
export interface Listener {
  rpc: RpcServer;
  path: string;
  /** The socket file we bound; null when systemd passed us a listening socket. */
  identity: { ino: number } | null;
}

export interface Serving {
  main: Listener;
  restricted: Listener | null;
  /** auth.json's watcher (a follower's looks for a login made on its machine); null when there is none. */
  watcher: FileWatcher | null;
}

function lostSocket(path: string): string {
  return `the socket file ${path} was removed or replaced`;
}

function listeners(serving: Serving): Listener[] {
  return serving.restricted ? [serving.main, serving.restricted] : [serving.main];
}

export class Lifecycle {
  private readonly startedAt = Date.now();
  private serving: Serving | null = null;
  private shuttingDown = false;
  /** A signal that came while start-up was still binding: honoured as soon as the sockets serve. */
  private stopRequested: string | null = null;
  private socketGuards: FileWatcher[] = [];

  constructor(
    private readonly settings: Settings,
    private readonly activation: Activation,
    /** The account service or the follower: stopped before the socket closes. */
    private readonly account: { stop(): void },
    private readonly homeLock: { release(): void },
    private readonly log: Logger,
  ) {
    // From the first socket bound on, a signal must go through shutdown, which removes the sockets.
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void this.shutdown(signal));
  }

  status(): DaemonStatus {
    const { settings } = this;
    return {
      pid: process.pid,
      version: VERSION,
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      socket: settings.socket,
      restrictedSocket: this.serving?.restricted?.path ?? null,
      codexHome: settings.codexHome,
      connections: this.serving ? listeners(this.serving).reduce((sum, { rpc }) => sum + rpc.connectionCount, 0) : 0,
      activation: this.activation,
      logFile: settings.logFile,
    };
  }

  /** The sockets accept connections: from now on a signal, or losing a socket, stops the daemon. */
  serve(serving: Serving): void {
    this.serving = serving;
    const bound = listeners(serving).filter(({ identity }) => identity !== null);
    if (bound.length > 0) {
      // As gpg-agent does: a daemon whose socket was deleted or taken over can never be reached
      // again there, yet it would keep holding CODEX_HOME against a new one. Step aside, so the
      // next client starts a daemon that serves both again.
      this.socketGuards = bound.map(
        ({ path, identity }) =>
          new FileWatcher(path, () => {
            if (!socketIsOurs(path, identity!)) void this.shutdown(lostSocket(path));
          }),
      );
    }
    // A client can connect (and remove the socket) as soon as it is bound, before the watch begins.
    const lost = bound.find(({ path, identity }) => !socketIsOurs(path, identity!));
    const requested = this.stopRequested ?? (lost ? lostSocket(lost.path) : null);
    if (requested) setImmediate(() => void this.shutdown(requested));
  }

  async shutdown(why: string): Promise<void> {
    if (!this.serving) {
      this.stopRequested ??= why;
      return;
    }
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const all = listeners(this.serving);
    this.log.info({ why }, 'shutting down');
    this.serving.watcher?.close();
    for (const guard of this.socketGuards) guard.close();
    this.account.stop();
    // Closing a listener makes libuv unlink its path, whatever is there by then: a socket that
    // replaced ours must survive, and nobody can reach ours through that path any more.
    const closed = all.map(({ rpc, path, identity }) => (!identity || socketIsOurs(path, identity) ? rpc.close() : Promise.resolve()));
    await Promise.all(all.map(({ rpc }) => rpc.drained(DRAIN_TIMEOUT_MS)));
    for (const { rpc } of all) rpc.closeConnections();
    await Promise.all(closed);
    for (const { path, identity } of all) unlinkIfOurs(path, identity);
    this.homeLock.release();
    this.log.info('stopped');
    process.exit(0);
  }
}
