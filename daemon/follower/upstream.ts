// A follower's link to its upstream codexd, on the client core every client uses
// (shared/rpc-client.ts) through the endpoint's transport and its trust checks. Over `ssh -R`,
// sshd creates the socket file as the user and is the peer, running as the user, so the same
// checks hold there.
//
// Every request has a time limit, and while the link is up an `initialize` goes upstream every
// `timeoutMs` as a heartbeat: a link that stops answering (a laptop asleep at the far end of
// ssh -R) is taken for down within two of those and reconnected, whatever the follower was
// doing. Reconnects follow the backoff below in every way a link fails: refused, closed right
// after accept, never answering, or leading back to this daemon.
import { EventEmitter } from 'node:events';
import { CodexdError, DaemonUnreachableError } from '../../shared/errors.js';
import { Notifications, type InitializeResult, type RequestDef } from '../../shared/protocol.js';
import { RpcClient } from '../../shared/rpc-client.js';
import { transportFor, type Transport } from '../../shared/transports.js';
import { VERSION } from '../../shared/version.js';
import type { Logger } from '../runtime/log.js';
import { Backoff } from './backoff.js';

export const BACKOFF_MIN_MS = 500;

export interface UpstreamEvents {
  connected: [InitializeResult];
  disconnected: [];
  /** An attempt to connect failed (the link stays down until a later one succeeds): why. */
  unreachable: [string];
  /** The upstream announced a change (`account/updated`). */
  changed: [];
}

export interface UpstreamOptions {
  path: string;
  log: Logger;
  /** This daemon's instance id: an upstream that lists it leads back here. */
  instanceId: string;
  /** Time limit of a request, and the heartbeat's period. */
  timeoutMs: number;
  /** The longest wait between two attempts to connect. */
  retryMaxMs: number;
  transport?: Transport;
}

/** The link is down, or went down while the request waited: the follower serves what it mirrored. */
export class LinkDown extends Error {
  override name = 'LinkDown';
}

/** A request that waits for the issuer upstream (a forced refresh) gets this many time limits. */
const SLOW_REQUEST_FACTOR = 6;

export class UpstreamLink extends EventEmitter<UpstreamEvents> {
  readonly path: string;
  private connection: RpcClient | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private lastFailure = '';
  /** The upstream's instance ids (itself first, then its own upstreams), from its last `initialize`. */
  private upstreamIds: readonly string[] = [];

  constructor(private readonly options: UpstreamOptions) {
    super();
    this.path = options.path;
    this.backoff = new Backoff(BACKOFF_MIN_MS, options.retryMaxMs);
  }

  /** The instance ids of the upstream chain, as far as the link knows them (none while it is down). */
  get upstreamInstanceIds(): readonly string[] {
    return this.connection ? this.upstreamIds : [];
  }

  start(): void {
    void this.attempt();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.heartbeatTimer);
    this.connection?.close();
  }

  /**
   * Sends a request upstream; rejects with CodexdError for an error answer, or LinkDown when the
   * link is down or goes down before the answer (a request that is not answered in time takes it down).
   */
  async request<P, R>(request: RequestDef<P, R>, params: P, slow = false): Promise<R> {
    const { connection } = this;
    if (!connection) throw new LinkDown(`the link to the upstream codexd on ${this.path} is down`);
    try {
      return await connection.request(request, params, this.options.timeoutMs * (slow ? SLOW_REQUEST_FACTOR : 1));
    } catch (error) {
      if (error instanceof CodexdError) throw error;
      this.drop(connection, (error as Error).message);
      throw new LinkDown((error as Error).message);
    }
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.connect();
      this.backoff.reset();
      this.lastFailure = '';
    } catch (error) {
      if (this.stopped) return;
      const why = (error as Error).message;
      // Once per distinct reason: a link that stays down must not fill the log.
      if (why !== this.lastFailure) this.options.log.warn(`cannot reach the upstream codexd on ${this.path} (${why}); retrying, at most every ${this.options.retryMaxMs / 1000} s`);
      this.lastFailure = why;
      this.emit('unreachable', why);
      this.retryLater();
    }
  }

  private retryLater(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.attempt(), this.backoff.next());
    this.retryTimer.unref();
  }

  private async connect(): Promise<void> {
    const { path, timeoutMs } = this.options;
    const transport = this.options.transport ?? transportFor(path);
    const connection = new RpcClient(await transport.connect(path), `the upstream codexd on ${path}`);
    let served: InitializeResult;
    try {
      served = await this.initialize(connection);
    } catch (error) {
      connection.close();
      throw error;
    }
    if (this.stopped) {
      connection.close();
      return;
    }
    connection.onNotification(Notifications.accountUpdated, () => void this.emit('changed'));
    connection.onClose(() => this.drop(connection, 'the upstream closed the link'));
    this.connection = connection;
    this.options.log.info({ upstream: path, upstreamCodexHome: served.codexHome, upstreamVersion: served.serverInfo.version }, 'connected to the upstream codexd');
    this.heartbeat(connection, timeoutMs);
    this.emit('connected', served);
  }

  /** `initialize`, refused when the upstream chain leads back to this daemon. */
  private async initialize(connection: RpcClient): Promise<InitializeResult> {
    const served = await connection.initialize({ clientInfo: { name: 'codexd-follower', version: VERSION } }, this.options.timeoutMs);
    const ids = served.instanceIds ?? [];
    if (ids.includes(this.options.instanceId)) {
      throw new DaemonUnreachableError(
        `it leads back to this codexd (${ids[0] === this.options.instanceId ? 'it is this daemon\'s own socket' : 'it follows this daemon, directly or through others'}); point --upstream (CODEXD_UPSTREAM) at the codexd that holds the login`,
      );
    }
    this.upstreamIds = ids;
    return served;
  }

  private heartbeat(connection: RpcClient, periodMs: number): void {
    this.heartbeatTimer = setTimeout(async () => {
      if (this.connection !== connection) return;
      try {
        await this.initialize(connection);
        this.heartbeat(connection, periodMs);
      } catch (error) {
        this.drop(connection, (error as Error).message);
      }
    }, periodMs);
    this.heartbeatTimer.unref();
  }

  /** Takes a link that came up down (once), and plans the next attempt. */
  private drop(connection: RpcClient, why: string): void {
    if (this.connection !== connection) return;
    this.connection = null;
    clearTimeout(this.heartbeatTimer);
    connection.close();
    if (this.stopped) return;
    this.options.log.warn({ upstream: this.path }, `the link to the upstream codexd dropped (${why}); reconnecting`);
    this.emit('disconnected');
    this.backoff.reset();
    this.retryLater();
  }
}
