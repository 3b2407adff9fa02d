// A follower's link to its upstream codexd: it connects with the checks every client makes
// (shared/trust.ts), sends `initialize`, and listens for `account/updated`. When the link drops
// it reconnects with capped exponential backoff. Over `ssh -R`, sshd creates the socket file as
// the user and is the peer, running as the user, so the same checks hold there.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { Notifications, Requests, type InitializeResult, type RequestDef } from '../../shared/protocol.js';
import { clientConnection } from '../../shared/transport.js';
import { openTrusted } from '../../shared/trust.js';
import { VERSION } from '../../shared/version.js';
import type { Logger } from '../runtime/log.js';

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

export interface UpstreamEvents {
  connected: [InitializeResult];
  disconnected: [];
  /** An attempt to connect failed (the link stays down until a later one succeeds). */
  unreachable: [string];
  /** The upstream announced a change (`account/updated`). */
  changed: [];
}

export class LinkDown extends Error {
  override name = 'LinkDown';
}

export class UpstreamLink extends EventEmitter<UpstreamEvents> {
  private connection: MessageConnection | null = null;
  private readonly stopping = new AbortController();

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {
    super();
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopping.abort();
    this.connection?.dispose();
  }

  /** Sends a request upstream; rejects with vscode-jsonrpc's ResponseError for an error answer, or LinkDown. */
  request<P, R>({ method }: RequestDef<P, R>, params: P): Promise<R> {
    if (!this.connection) return Promise.reject(new LinkDown(`the link to the upstream codexd on ${this.path} is down`));
    return this.connection.sendRequest<R>(method, params);
  }

  private async run(): Promise<void> {
    let delayMs = BACKOFF_MIN_MS;
    let lastFailure = '';
    while (!this.stopping.signal.aborted) {
      try {
        await this.connectOnce();
        delayMs = BACKOFF_MIN_MS;
        lastFailure = '';
      } catch (error) {
        const why = (error as Error).message;
        // Once per distinct reason: a link that stays down must not fill the log.
        if (why !== lastFailure) this.log.warn(`cannot reach the upstream codexd on ${this.path} (${why}); retrying, at most every ${BACKOFF_MAX_MS / 1000} s`);
        lastFailure = why;
        this.emit('unreachable', why);
      }
      await sleep(delayMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      delayMs = Math.min(delayMs * 2, BACKOFF_MAX_MS);
    }
  }

  /** Resolves when a link that came up has closed again; rejects when it never came up. */
  private async connectOnce(): Promise<void> {
    const socket = await openTrusted(this.path);
    const connection = clientConnection(socket);
    const closed = new Promise<void>((resolve) => connection.onClose(() => resolve()));
    connection.onNotification(Notifications.accountUpdated.method, () => void this.emit('changed'));
    connection.listen();
    let served: InitializeResult;
    try {
      served = await connection.sendRequest<InitializeResult>(Requests.initialize.method, { clientInfo: { name: 'codexd-follower', version: VERSION } });
    } catch (error) {
      connection.dispose();
      socket.destroy();
      throw error;
    }
    if (this.stopping.signal.aborted) {
      connection.dispose();
      return;
    }
    this.connection = connection;
    this.log.info({ upstream: this.path, upstreamCodexHome: served.codexHome }, 'connected to the upstream codexd');
    this.emit('connected', served);
    await closed;
    this.connection = null;
    connection.dispose();
    socket.destroy();
    if (this.stopping.signal.aborted) return;
    this.log.warn({ upstream: this.path }, 'the link to the upstream codexd dropped');
    this.emit('disconnected');
  }
}
