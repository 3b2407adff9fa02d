// The codexd client library for editor integrations and tools.
//
//   import { connect } from 'codexd/client';
//   const codexd = await connect();                       // starts the daemon if needed
//   const token = await codexd.token();                   // refreshed by the daemon, never by you
//   codexd.onAccountUpdated((status) => render(status));  // login, logout, refresh, outside edits
//   await codexd.close();
//
// It reconnects by itself after a daemon restart and then re-reads the status, so listeners
// never miss a change. It loads no logger or settings library: it stays cheap to import.
import { EventEmitter } from 'node:events';
import { DaemonUnreachableError } from './autostart.js';
import { openDaemon } from './connect.js';
import { expectedDaemon, resolveSocketPath, type ExpectedDaemon } from '../shared/paths.js';
import {
  Notifications,
  Requests,
  type AccountSummary,
  type DaemonStatus,
  type InitializeResult,
  type LoginCancelResult,
  type LoginCompleted,
  type LoginStartParams,
  type LoginStartResult,
  type LogoutParams,
  type LogoutResult,
  type AccountUsage,
  type RateLimitsReadParams,
  type RateLimitsReadResult,
  type RateLimitsUpdated,
  type UsageListParams,
  type ReadParams,
  type ReadResult,
  type RequestDef,
  type SessionResult,
  type Status,
  type TokenParams,
  type TokenResult,
} from '../shared/protocol.js';
import type { Disposable, RpcClient } from '../shared/rpc-client.js';

export * from '../shared/protocol.js';
export { DaemonUnreachableError } from './autostart.js';
export { CodexdError, ConnectionLost, NoAnswer, SocketRefusedError } from '../shared/errors.js';
export type { Disposable } from '../shared/rpc-client.js';

export interface ConnectOptions {
  /** Socket path; default: CODEXD_SOCKET, the settings file, then the standard location. */
  socket?: string;
  /** Start codexd when nothing answers (default true, unless CODEXD_NO_AUTOSTART=1). */
  autostart?: boolean;
  /** Sent in `initialize`, and shown in the daemon's debug log. */
  clientInfo?: { name: string; version: string };
  /**
   * @internal What the daemon must serve (default: what this process's environment and the
   * settings file set); `{}` accepts any daemon, for commands that control the daemon itself.
   */
  expect?: ExpectedDaemon;
  /** @internal Any version will do, for commands that control the daemon itself (default: a daemon of another version is restarted, or refused). */
  anyVersion?: boolean;
}

interface ClientEvents {
  accountUpdated: [Status];
  loginCompleted: [LoginCompleted];
  rateLimitsUpdated: [RateLimitsUpdated];
  disconnected: [];
  reconnected: [];
}

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2000;

export class CodexdClient {
  private connection: RpcClient | null = null;
  private connecting: Promise<RpcClient> | null = null;
  private readonly events = new EventEmitter<ClientEvents>();
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Subscribed to the usage poll: subscribed again after a reconnect. */
  private rateLimitsSubscribed = false;
  /** What the daemon said it serves in `initialize`; null before the first connection. */
  private served: InitializeResult | null = null;

  /** @internal use `connect()` */
  constructor(
    readonly socketPath: string,
    private readonly options: ConnectOptions,
  ) {}

  /** What the daemon serves (its CODEX_HOME, issuer and client id), as it said in `initialize`; connects first when needed. */
  async serves(): Promise<InitializeResult> {
    await this.open(this.options.autostart ?? true);
    return this.served!;
  }

  read(params: ReadParams = {}): Promise<ReadResult> {
    return this.request(Requests.accountRead, params);
  }

  /** The bearer credential: a ChatGPT access token (refreshed first when due) or the API key; `account` names one without switching to it. */
  token(params: TokenParams = {}): Promise<TokenResult> {
    return this.request(Requests.accountToken, params);
  }

  /** The login without its refresh token, as a follower mirrors it (see account/session in docs/protocol.md). */
  session(): Promise<SessionResult> {
    return this.request(Requests.accountSession, {});
  }

  loginStart(params: LoginStartParams): Promise<LoginStartResult> {
    return this.request(Requests.loginStart, params);
  }

  loginCancel(loginId: string): Promise<LoginCancelResult> {
    return this.request(Requests.loginCancel, { loginId });
  }

  /** No params: the active account; `{name}`: that account; `{all: true}`: every account. */
  logout(params: LogoutParams = {}): Promise<LogoutResult> {
    return this.request(Requests.logout, params);
  }

  /** Every account, the active one first. */
  async accounts(): Promise<AccountSummary[]> {
    return (await this.request(Requests.accountList, {})).accounts;
  }

  /** Makes the account `name` the one Codex uses (the one auth.json holds). */
  switchAccount(name: string): Promise<AccountSummary> {
    return this.request(Requests.accountSwitch, { name });
  }

  /** An account's usage and limits (default the active account's), in Codex app-server's shape (see docs/usage.md). */
  rateLimits(params: RateLimitsReadParams = {}): Promise<RateLimitsReadResult> {
    return this.request(Requests.rateLimitsRead, params);
  }

  /** Every account with its usage: what is known, or (`refresh`) asked anew where older than the cache time. */
  async usage(params: UsageListParams = {}): Promise<AccountUsage[]> {
    return (await this.request(Requests.accountUsageList, params)).accounts;
  }

  /** Keeps codexd polling every account's usage (at most once a minute each) for onRateLimitsUpdated, until unsubscribed. */
  async subscribeRateLimits(): Promise<void> {
    await this.request(Requests.rateLimitsSubscribe, {});
    this.rateLimitsSubscribed = true;
  }

  async unsubscribeRateLimits(): Promise<void> {
    this.rateLimitsSubscribed = false;
    await this.request(Requests.rateLimitsUnsubscribe, {});
  }

  daemonStatus(): Promise<DaemonStatus> {
    return this.request(Requests.daemonStatus, {});
  }

  shutdown(): Promise<void> {
    return this.request(Requests.daemonShutdown, {}).then(() => undefined);
  }

  onAccountUpdated(listener: (status: Status) => void): Disposable {
    return this.subscribe('accountUpdated', listener);
  }

  onLoginCompleted(listener: (event: LoginCompleted) => void): Disposable {
    return this.subscribe('loginCompleted', listener);
  }

  /** An account's usage changed (after any read or poll; see subscribeRateLimits). */
  onRateLimitsUpdated(listener: (update: RateLimitsUpdated) => void): Disposable {
    return this.subscribe('rateLimitsUpdated', listener);
  }

  /** The daemon went away; requests made now wait for it (or start it, with autostart). */
  onDisconnected(listener: () => void): Disposable {
    return this.subscribe('disconnected', listener);
  }

  onReconnected(listener: () => void): Disposable {
    return this.subscribe('reconnected', listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.connection?.close();
    this.connection = null;
    this.events.removeAllListeners();
  }

  /** @internal */
  async open(autostart: boolean): Promise<RpcClient> {
    if (this.connection) return this.connection;
    this.connecting ??= this.establish(autostart).finally(() => (this.connecting = null));
    return this.connecting;
  }

  private subscribe<E extends keyof ClientEvents>(
    event: E,
    listener: (...args: ClientEvents[E]) => void,
  ): Disposable {
    this.events.on(event, listener as never);
    return { dispose: () => this.events.off(event, listener as never) };
  }

  private request<P, R>(request: RequestDef<P, R>, params: P): Promise<R> {
    // Connected: straight to the connection, without a turn through open().
    if (this.connection) return this.connection.request(request, params);
    return this.open(this.options.autostart ?? true).then((connection) => connection.request(request, params));
  }

  /** Connects, then checks with `initialize` that the daemon serves what this client expects, before any request. */
  private async establish(autostart: boolean): Promise<RpcClient> {
    const { connection, served } = await openDaemon(this.socketPath, {
      autostart,
      expect: this.options.expect ?? expectedDaemon(),
      anyVersion: this.options.anyVersion ?? false,
      ...(this.options.clientInfo ? { clientInfo: this.options.clientInfo } : {}),
    });
    connection.onNotification(Notifications.accountUpdated, (status) => void this.events.emit('accountUpdated', status));
    connection.onNotification(Notifications.loginCompleted, (event) => void this.events.emit('loginCompleted', event));
    connection.onNotification(Notifications.rateLimitsUpdated, (update) => void this.events.emit('rateLimitsUpdated', update));
    connection.onClose(() => this.lost(connection));
    this.served = served;
    this.connection = connection;
    return connection;
  }

  private lost(connection: RpcClient): void {
    if (this.connection !== connection) return;
    this.connection = null;
    if (this.closed) return;
    this.events.emit('disconnected');
    this.scheduleReconnect(RECONNECT_MIN_MS);
  }

  /** Comes back without starting a daemon: one that was stopped on purpose stays stopped until asked for. */
  private scheduleReconnect(delayMs: number): void {
    const listeners = (['accountUpdated', 'loginCompleted', 'rateLimitsUpdated', 'reconnected'] as const).reduce((sum, event) => sum + this.events.listenerCount(event), 0);
    if (listeners === 0) return;
    this.reconnectTimer = setTimeout(async () => {
      if (this.closed || this.connection) return;
      try {
        await this.open(false);
        if (this.rateLimitsSubscribed) await this.request(Requests.rateLimitsSubscribe, {});
        this.events.emit('reconnected');
        // Anything may have changed while we were away.
        this.events.emit('accountUpdated', await this.read());
      } catch (error) {
        if (error instanceof DaemonUnreachableError || (error as NodeJS.ErrnoException).code) {
          this.scheduleReconnect(Math.min(delayMs * 2, RECONNECT_MAX_MS));
        }
      }
    }, delayMs);
  }
}

/** Connects to codexd (starting it when allowed) and returns a ready client. */
export async function connect(options: ConnectOptions = {}): Promise<CodexdClient> {
  const client = new CodexdClient(resolveSocketPath(options.socket), options);
  await client.open(options.autostart ?? true);
  return client;
}

export type { InitializeResult };
