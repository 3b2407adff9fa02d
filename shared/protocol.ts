// The codexd wire protocol: JSON-RPC 2.0 with LSP framing (see "Protocol" in the README).
// Pure declarations, no I/O: the daemon and every client import this one module.
import { NotificationType, RequestType } from 'vscode-jsonrpc';

export { ErrorCodes, type ErrorCode } from './errors.js';
export { MAX_MESSAGE_BYTES } from './framing.js';

export const PROTOCOL_VERSION = 1;

export type Account =
  | { type: 'apiKey' }
  | { type: 'chatgpt'; email: string | null; planType: string | null; accountId: string | null };

export type AccountState = 'loggedOut' | 'ok' | 'refreshing' | 'reauthRequired';

export type LoginType = 'chatgpt' | 'chatgptDeviceCode';

export interface PendingLogin {
  loginId: string;
  type: LoginType;
}

export interface Status {
  account: Account | null;
  state: AccountState;
  /** ISO 8601, or null. */
  accessTokenExpiresAt: string | null;
  /** Set when the access token's `exp` is missing or not a sane time: says how it is refreshed instead. */
  accessTokenExpiryNote: string | null;
  /** ISO 8601, or null. */
  lastRefresh: string | null;
  /** Why a new login is needed, or why auth.json could not be used; otherwise null. */
  reauthReason: string | null;
  /** Why the last refresh failed, until one succeeds; otherwise null. */
  lastRefreshError: string | null;
  /** ISO 8601: when the next refresh (or retry after a failure) is due; null when none is planned. */
  nextRefreshAt: string | null;
  login: PendingLogin | null;
}

export interface InitializeParams {
  clientInfo?: { name: string; version: string };
}
export interface InitializeResult {
  serverInfo: { name: 'codexd'; version: string };
  protocolVersion: number;
  /** What the daemon serves; clients check it before anything else (older daemons leave it out). */
  codexHome?: string;
  issuer?: string;
  clientId?: string;
}

export interface ReadParams {
  refreshToken?: boolean;
}

export interface TokenParams {
  forceRefresh?: boolean;
}
export type TokenResult =
  | { type: 'apiKey'; apiKey: string }
  | { type: 'chatgpt'; accessToken: string; accountId: string | null; expiresAt: string | null };

export type LoginStartParams =
  | { type: 'apiKey'; apiKey: string }
  | { type: 'chatgpt'; openBrowser?: boolean; keepAfterDisconnect?: boolean }
  | { type: 'chatgptDeviceCode'; keepAfterDisconnect?: boolean };
export type LoginStartResult =
  | { type: 'apiKey' }
  /** `busyPort`: the callback port that was in use, when the login fell back to another. */
  | { type: 'chatgpt'; loginId: string; authUrl: string; busyPort?: number }
  | { type: 'chatgptDeviceCode'; loginId: string; verificationUrl: string; userCode: string; expiresAt: string };

export interface LoginCancelParams {
  loginId: string;
}
export interface LoginCancelResult {
  status: 'canceled' | 'notFound';
}

export interface LogoutResult {
  /** Set when the best-effort revocation failed; the local logout still happened. */
  warning?: string;
  /** Set when auth.json could not be used: where it was moved (auth.json.corrupt-<time>). */
  movedAside?: string;
}

export type Activation = 'bind' | 'systemd';

export interface DaemonStatus {
  pid: number;
  version: string;
  uptimeS: number;
  socket: string;
  codexHome: string;
  connections: number;
  activation: Activation;
  logFile: string | null;
}

export interface LoginCompleted {
  loginId: string;
  success: boolean;
  error: string | null;
}

export type Empty = Record<string, never>;

export const Methods = {
  initialize: new RequestType<InitializeParams, InitializeResult, void>('initialize'),
  accountRead: new RequestType<ReadParams, Status, void>('account/read'),
  accountToken: new RequestType<TokenParams, TokenResult, void>('account/token'),
  loginStart: new RequestType<LoginStartParams, LoginStartResult, void>('account/login/start'),
  loginCancel: new RequestType<LoginCancelParams, LoginCancelResult, void>('account/login/cancel'),
  logout: new RequestType<Empty, LogoutResult, void>('account/logout'),
  daemonStatus: new RequestType<Empty, DaemonStatus, void>('daemon/status'),
  daemonShutdown: new RequestType<Empty, Empty, void>('daemon/shutdown'),
} as const;

export const Notifications = {
  accountUpdated: new NotificationType<Status>('account/updated'),
  loginCompleted: new NotificationType<LoginCompleted>('account/login/completed'),
} as const;
