// The daemon's side of every request in shared/protocol.ts: one handler per request, each in its
// own handle-*.ts, checking its params and calling the account. The table is typed by
// `Requests`, so a request without a handler, or a handler whose params or result differ from
// the protocol's, does not build.
import { Requests, type AccountSummary, type DaemonStatus, type StartedBy, type LogoutParams, type LogoutResult, type ParamsOf, type ResultOf, type SessionResult, type Status, type TokenResult } from '../../shared/protocol.js';
import type { Logins } from '../login/logins.js';
import type { Peer, RequestDispatch } from './server.js';
import { handleAccountList } from './handle-account-list.js';
import { handleAccountRead } from './handle-account-read.js';
import { handleAccountSession } from './handle-account-session.js';
import { handleAccountSwitch } from './handle-account-switch.js';
import { handleAccountToken } from './handle-account-token.js';
import { handleDaemonShutdown } from './handle-daemon-shutdown.js';
import { handleDaemonStatus } from './handle-daemon-status.js';
import { handleInitialize } from './handle-initialize.js';
import { handleLoginCancel } from './handle-login-cancel.js';
import { handleLoginStart } from './handle-login-start.js';
import { handleLogout } from './handle-logout.js';
import { handleAccountUsageList } from './handle-account-usage-list.js';
import { handleRateLimitsRead } from './handle-rate-limits-read.js';
import { handleRateLimitsSubscribe, handleRateLimitsUnsubscribe } from './handle-rate-limits-subscribe.js';
import type { UsageService } from '../usage/service.js';

export interface DaemonInfo {
  version: string;
  /** What this daemon serves; clients compare it with what they would use (see initialize in docs/protocol.md). */
  serves: { codexHome: string; issuer: string; clientId: string };
  startedBy: StartedBy;
  /** This daemon's instance id, then its upstreams' (a follower's), for loop detection. */
  instanceIds(): string[];
  status(): DaemonStatus;
  shutdown(): void;
}

/**
 * What the handlers ask of the login: the AccountService (../accounts/service.ts), which owns it, or a
 * Follower (../follower/follower.ts), which mirrors its upstream's.
 */
export interface AccountPort {
  /** `restricted`: asked on the restricted socket (forced refreshes are rate-limited there). */
  read(refreshToken: boolean, restricted?: boolean): Promise<Status>;
  /** `name`: that account's credential instead of the active one's. */
  token(forceRefresh: boolean, name?: string, restricted?: boolean): TokenResult | Promise<TokenResult>;
  sessionForFollower(): Promise<SessionResult>;
  logout(params: LogoutParams): Promise<LogoutResult>;
  list(): AccountSummary[];
  switchTo(name: string): Promise<AccountSummary>;
  readonly logins: Pick<Logins, 'start' | 'cancel'>;
}

export interface HandlerContext {
  account: AccountPort;
  daemon: DaemonInfo;
  usage: Pick<UsageService, 'read' | 'list' | 'subscribe'>;
}

export interface RequestHandler<P, R> {
  /** Checks the params as received; throws an invalid-params error for a bad one. */
  params(raw: unknown): P;
  handle(params: P, context: HandlerContext, peer: Peer): R | Promise<R>;
}

type HandlerTable = { [K in keyof Requests]: RequestHandler<ParamsOf<Requests[K]>, ResultOf<Requests[K]>> };

const table: HandlerTable = {
  initialize: handleInitialize,
  accountRead: handleAccountRead,
  accountToken: handleAccountToken,
  accountSession: handleAccountSession,
  rateLimitsRead: handleRateLimitsRead,
  rateLimitsSubscribe: handleRateLimitsSubscribe,
  rateLimitsUnsubscribe: handleRateLimitsUnsubscribe,
  loginStart: handleLoginStart,
  loginCancel: handleLoginCancel,
  logout: handleLogout,
  accountList: handleAccountList,
  accountSwitch: handleAccountSwitch,
  accountUsageList: handleAccountUsageList,
  daemonStatus: handleDaemonStatus,
  daemonShutdown: handleDaemonShutdown,
};

/** The handlers by method name, as the server dispatches them. */
export function createHandlers(account: AccountPort, daemon: DaemonInfo, usage: HandlerContext['usage']): Map<string, RequestDispatch> {
  const context: HandlerContext = { account, daemon, usage };
  const keys = Object.keys(table) as Array<keyof Requests>;
  return new Map(
    keys.map((key) => {
      const handler = table[key] as RequestHandler<unknown, unknown>;
      return [Requests[key].method, (raw, peer) => handler.handle(handler.params(raw), context, peer)];
    }),
  );
}
