// The running daemon's lifecycle: its status, the socket guard, the signals, and the shutdown
// order (stop watching, stop refreshing and logins, stop accepting, let requests in flight
// finish, close connections, remove the socket, release CODEX_HOME).
import type { HeldLock } from '../shared/os.js';
import type { Activation, DaemonStatus } from '../shared/protocol.js';
import { VERSION } from '../shared/version.js';
import type { Logger } from './log.js';
import type { RpcServer } from './server.js';
import type { Settings } from './settings.js';
import { socketIsOurs, unlinkIfOurs } from './socket.js';
import { FileWatcher } from './watcher.js';

const DRAIN_TIMEOUT_MS = 10_000;

export interface Serving {
  rpc: RpcServer;
  /** auth.json's watcher; null for a follower, which rewrites auth.json whenever its upstream changes. */
  watcher: FileWatcher | null;
  /** The socket file we bound; null when systemd passed us a listening socket. */
  socketIdentity: { ino: number } | null;
}

export class Lifecycle {
  private readonly startedAt = Date.now();
  private serving: Serving | null = null;
  private shuttingDown = false;
  private socketGuard: FileWatcher | null = null;

  constructor(
    private readonly settings: Settings,
    private readonly activation: Activation,
    /** The account service or the follower: stopped before the socket closes. */
    private readonly account: { stop(): void },
    private readonly homeLock: HeldLock,
    private readonly log: Logger,
  ) {}

  status(): DaemonStatus {
    const { settings } = this;
    return {
      pid: process.pid,
      version: VERSION,
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      socket: settings.socket,
      codexHome: settings.codexHome,
      connections: this.serving?.rpc.connectionCount ?? 0,
      activation: this.activation,
      logFile: settings.logFile,
    };
  }

  /** The socket accepts connections: from now on a signal, or losing the socket, stops the daemon. */
  serve(serving: Serving): void {
    this.serving = serving;
    const ours = serving.socketIdentity;
    if (ours) {
      // As gpg-agent does: a daemon whose socket was deleted or taken over can never be reached
      // again, yet it would keep holding CODEX_HOME against a new one. Step aside.
      this.socketGuard = new FileWatcher(this.settings.socket, () => {
        if (!socketIsOurs(this.settings.socket, ours)) void this.shutdown('the socket file was removed or replaced');
      });
    }
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void this.shutdown(signal));
  }

  async shutdown(why: string): Promise<void> {
    if (this.shuttingDown || !this.serving) return;
    this.shuttingDown = true;
    const { rpc, watcher, socketIdentity } = this.serving;
    this.log.info({ why }, 'shutting down');
    watcher?.close();
    this.socketGuard?.close();
    this.account.stop();
    // Closing a listener makes libuv unlink its path, whatever is there by then: a socket that
    // replaced ours must survive, and nobody can reach ours through that path any more.
    const closed = !socketIdentity || socketIsOurs(this.settings.socket, socketIdentity) ? rpc.close() : Promise.resolve();
    await rpc.drained(DRAIN_TIMEOUT_MS);
    rpc.closeConnections();
    await closed;
    unlinkIfOurs(this.settings.socket, socketIdentity);
    this.homeLock.release();
    this.log.info('stopped');
    process.exit(0);
  }
}
