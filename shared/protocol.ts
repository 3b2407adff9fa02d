// The codexd wire protocol: JSON-RPC 2.0 with LSP framing (see docs/protocol.md).
// Pure declarations, no imports of I/O or of a JSON-RPC library: the daemon, the client library
// and the CLI's fast path all import this one module. Every request and notification is declared
// once below, with its method, params and result; nothing else spells a method name.

export { codeFromProtocol, ErrorCodes, type ErrorCode } from './errors.js';
export { MAX_MESSAGE_BYTES } from './framing.js';

/** 2: codexd's error codes moved out of JSON-RPC's reserved range (docs/protocol.md). */
export const PROTOCOL_VERSION = 2;

/** Longest list of instance ids an `initialize` answer carries (a chain of followers is cut there). */
export const MAX_INSTANCE_IDS = 16;

export type Account =
  | { type: 'apiKey' }
  | { type: 'chatgpt'; email: string | null; planType: string | null; accountId: string | null };

export type AccountState = 'loggedOut' | 'ok' | 'refreshing' | 'reauthRequired';

export type LoginType = 'chatgpt' | 'chatgptDeviceCode';

export interface PendingLogin {
  loginId: string;
  type: LoginType;
}

/** A follower's link to its upstream codexd (see docs/remote.md). */
export interface Upstream {
  /** The upstream socket the follower connects to. */
  path: string;
  state: 'connected' | 'disconnected';
  /** ISO 8601: since when the link is in this state. */
  since: string;
}

/** One account of `account/list` (and of Status.accounts). */
export interface AccountSummary {
  /** Unique; the email, `apikey-<last 4>`, or the name given at login. */
  name: string;
  type: 'chatgpt' | 'apiKey';
  email: string | null;
  planType: string | null;
  /** The one auth.json holds, which Codex uses. */
  active: boolean;
  /** ISO 8601, or null (an API key, or no readable exp). */
  accessTokenExpiresAt: string | null;
  /** When its tokens were last issued (its auth.json's `last_refresh`, ISO 8601), or null. */
  lastRefresh: string | null;
  state: Exclude<AccountState, 'loggedOut'>;
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
  /** Set on a follower (codexd --upstream): its link to the upstream; null otherwise. */
  upstream: Upstream | null;
  /** Every account codexd keeps, the active one first. */
  accounts: AccountSummary[];
  /** Where the login lives (`cli_auth_credentials_store` in Codex's config.toml). */
  credentialStore: CredentialStore;
  /** The last time SWITCH_AT moved the active account, or found every account near its limits (docs/usage.md); null before. */
  autoSwitch: AutoSwitchNote | null;
}

/** What SWITCH_AT did, and why, in words a client can show. */
export interface AutoSwitchNote {
  /** ISO 8601. */
  at: string;
  /** The account that reached the threshold. */
  from: string;
  /** The account switched to; null when none was below the threshold (nobody moved). */
  to: string | null;
  reason: string;
}

export interface CredentialStore {
  /** What config.toml says: `file` (the default), `keyring` or `auto`. */
  configured: 'file' | 'keyring' | 'auto';
  /** Where the login is read from and written to now (`auto` falls back to the file when the keyring fails). */
  using: 'file' | 'keyring';
  /** Codex's keyring entry for this CODEX_HOME; null in file mode. */
  keyringEntry: { service: string; account: string } | null;
  /** Why the keyring cannot be used, or config.toml cannot be followed, and what to do; otherwise null. */
  problem: string | null;
}

/** A Status with no login held; `held` gives what the daemon knows besides (logins, upstream, accounts, store). */
export function loggedOutStatus(held: Pick<Status, 'login' | 'upstream' | 'accounts' | 'credentialStore'> & Partial<Pick<Status, 'autoSwitch'>>): Status {
  return {
    account: null,
    state: 'loggedOut',
    accessTokenExpiresAt: null,
    accessTokenExpiryNote: null,
    lastRefresh: null,
    reauthReason: null,
    lastRefreshError: null,
    nextRefreshAt: null,
    autoSwitch: null,
    ...held,
  };
}

export interface InitializeParams {
  clientInfo?: { name: string; version: string };
}
export interface InitializeResult {
  serverInfo: { name: 'codexd'; version: string };
  protocolVersion: number;
  /**
   * What the daemon serves; clients check it before anything else (older daemons leave it out).
   * The restricted socket leaves out codexHome: it is a path on the machine that holds the login.
   */
  codexHome?: string;
  issuer?: string;
  clientId?: string;
  /** How the daemon was started: by a client's autostart, by systemd, or by the user (older daemons leave it out). */
  startedBy?: StartedBy;
  /**
   * This daemon's instance id (new at every start), then those of its upstreams as far as it
   * knows them: a follower that finds its own id here follows itself (older daemons leave it out).
   */
  instanceIds?: string[];
}

export type StartedBy = 'autostart' | 'systemd' | 'user';

export interface ReadParams {
  refreshToken?: boolean;
}
/** Status, plus Codex app-server's `requiresOpenaiAuth` (always true: codexd serves OpenAI auth). */
export type ReadResult = Status & { requiresOpenaiAuth: true };

/** Codex app-server's spelling of the account type in `account/updated` (note `apikey`, not `apiKey`). */
export type AuthMode = 'apikey' | 'chatgpt';

/** `account/updated`: Status, plus Codex app-server's `authMode` and `planType`. */
export type AccountUpdated = Status & { authMode: AuthMode | null; planType: string | null };

export interface TokenParams {
  forceRefresh?: boolean;
  /** An account's name: its credential, without switching to it. Default: the active account. */
  account?: string;
}
export type TokenResult =
  | { type: 'apiKey'; apiKey: string }
  | { type: 'chatgpt'; accessToken: string; accountId: string | null; expiresAt: string | null };

/**
 * `account/session`: what a follower needs to write a working auth.json for Codex (see docs/remote.md).
 * Never the refresh token.
 */
export type SessionResult =
  | { authMode: 'apikey'; apiKey: string }
  | {
      authMode: 'chatgpt';
      accessToken: string;
      idToken: string;
      accountId: string | null;
      expiresAt: string | null;
      lastRefresh: string | null;
    };

/** `name` labels the account the login adds or updates (default: its email, or `apikey-<last 4>`). */
export type LoginStartParams =
  | { type: 'apiKey'; apiKey: string; name?: string }
  | { type: 'chatgpt'; openBrowser?: boolean; keepAfterDisconnect?: boolean; name?: string }
  | { type: 'chatgptDeviceCode'; keepAfterDisconnect?: boolean; name?: string };
export type LoginStartResult =
  /** `movedAside`: where the unusable auth.json this login replaced was kept (auth.json.corrupt-<time>). */
  | { type: 'apiKey'; movedAside?: string }
  /** `busyPort`: the callback port that was in use, when the login fell back to another. */
  | { type: 'chatgpt'; loginId: string; authUrl: string; busyPort?: number }
  | { type: 'chatgptDeviceCode'; loginId: string; verificationUrl: string; userCode: string; expiresAt: string };

export interface LoginCancelParams {
  loginId: string;
}
export interface LoginCancelResult {
  status: 'canceled' | 'notFound';
}

/** No params: the active account. `name`: that account. `all`: every account. */
export interface LogoutParams {
  name?: string;
  all?: boolean;
}

export interface ListResult {
  accounts: AccountSummary[];
}

export interface SwitchParams {
  name: string;
}

export interface LogoutResult {
  /** Set when the best-effort revocation failed; the local logout still happened. */
  warning?: string;
  /** Set when auth.json could not be used: where it was moved (auth.json.corrupt-<time>). */
  movedAside?: string;
  /** Set when the active account's logout made another account the active one: its name. */
  activated?: string;
}

export type Activation = 'bind' | 'systemd';

export interface DaemonStatus {
  pid: number;
  version: string;
  uptimeS: number;
  socket: string;
  /** The restricted socket (see docs/remote.md); null when it is off. */
  restrictedSocket: string | null;
  codexHome: string;
  connections: number;
  activation: Activation;
  logFile: string | null;
}

export interface LoginCompleted {
  loginId: string;
  success: boolean;
  error: string | null;
  /** Where the unusable auth.json this login replaced was kept (auth.json.corrupt-<time>), if there was one. */
  movedAside?: string;
}

// Usage and limits (docs/usage.md). The types named after Codex's are Codex app-server v2's, as
// `codex app-server generate-ts` writes them for 0.169 and 0.171.

export type PlanType =
  | 'free' | 'go' | 'plus' | 'pro' | 'prolite' | 'promax' | 'team' | 'self_serve_business_prolite' | 'self_serve_business_usage_based' | 'business' | 'ent26'
  | 'enterprise_cbp_automation' | 'enterprise_cbp_usage_based' | 'enterprise' | 'edu' | 'edu_plus' | 'edu_pro' | 'sci' | 'sci_plus' | 'unknown';

export type RateLimitReachedType =
  | 'rate_limit_reached'
  | 'workspace_owner_credits_depleted'
  | 'workspace_member_credits_depleted'
  | 'workspace_owner_usage_limit_reached'
  | 'workspace_member_usage_limit_reached';

export interface RateLimitWindow {
  usedPercent: number;
  /** 300 for the 5-hour window, 10080 for the weekly one. */
  windowDurationMins: number | null;
  /** Unix time in seconds. */
  resetsAt: number | null;
}

export interface CreditsSnapshot {
  hasCredits: boolean;
  unlimited: boolean;
  balance: string | null;
}

export interface SpendControlLimitSnapshot {
  limit: string;
  used: string;
  remainingPercent: number;
  resetsAt: number;
}

export interface RateLimitSnapshot {
  limitId: string | null;
  limitName: string | null;
  normalModelSlug: string | null;
  /** The 5-hour window. */
  primary: RateLimitWindow | null;
  /** The weekly window. */
  secondary: RateLimitWindow | null;
  credits: CreditsSnapshot | null;
  individualLimit: SpendControlLimitSnapshot | null;
  spendControlReached: boolean | null;
  planType: PlanType | null;
  rateLimitReachedType: RateLimitReachedType | null;
}

/** Codex's `GetAccountRateLimitsResponse`. codexd does not read reset credits or upsell banners: those are null. */
export interface RateLimitsResponse {
  ordinaryUsageAllowed: boolean | null;
  rateLimits: RateLimitSnapshot;
  rateLimitsByLimitId: Record<string, RateLimitSnapshot> | null;
  rateLimitResetCredits: null;
  accountId: string | null;
  rateLimitUpsell: null;
}

/** Codex's params (supportsLunaReserve, excludeResetCreditDetails) are accepted and ignored. */
export interface RateLimitsReadParams {
  /** An account's name; default the active account. */
  account?: string;
}

/** `account/rateLimits/read`: Codex's answer, and which account it is about and how old it is. */
export type RateLimitsReadResult = RateLimitsResponse & {
  /** The account's name (null on a follower, whose accounts are upstream). */
  account: string | null;
  /** Whether it is the active account (always on a follower). */
  active: boolean;
  /** ISO 8601: when the backend gave this answer. */
  fetchedAt: string;
  /** Seconds since then: above 0 when it came from the cache. */
  ageS: number;
};

export interface UsageListParams {
  /** Ask the backend for each account whose cached answer is older than the cache time; default false: only what is known. */
  refresh?: boolean;
}

export interface AccountUsage {
  name: string;
  type: 'chatgpt' | 'apiKey';
  active: boolean;
  /** The last answer (null when none is known, and for an API key). */
  usage: RateLimitsReadResult | null;
  /** Why the last request for it failed, when it did; null otherwise. */
  error: string | null;
}

export interface UsageListResult {
  accounts: AccountUsage[];
}

/** `account/rateLimits/updated`: Codex's notification, and which account it is about. */
export interface RateLimitsUpdated {
  rateLimits: RateLimitSnapshot;
  account: string | null;
  active: boolean;
  fetchedAt: string;
}

export type Empty = Record<string, never>;

/**
 * A request: its method name, with its params and result as types only. `restricted`: served on
 * the restricted socket too (the one forwarded to remote machines and containers); every other
 * request is refused there with `ErrorCodes.restricted`.
 */
export interface RequestDef<P, R> {
  readonly method: string;
  readonly restricted: boolean;
  /** Types only, never set. */
  readonly types?: { params: P; result: R };
}

/** A notification from the daemon: its method name, with its params as a type only. `restricted`: sent on the restricted socket too. */
export interface NotificationDef<P> {
  readonly method: string;
  readonly restricted: boolean;
  readonly types?: { params: P };
}

export type ParamsOf<D> = D extends RequestDef<infer P, unknown> ? P : D extends NotificationDef<infer P> ? P : never;
export type ResultOf<D> = D extends RequestDef<unknown, infer R> ? R : never;

/** Marks a request or notification as one the restricted socket serves. */
const RESTRICTED = { restricted: true } as const;

function request<P, R>(method: string, access: { restricted: boolean } = { restricted: false }): RequestDef<P, R> {
  return { method, restricted: access.restricted };
}

function notification<P>(method: string, access: { restricted: boolean } = { restricted: false }): NotificationDef<P> {
  return { method, restricted: access.restricted };
}

export const Requests = {
  initialize: request<InitializeParams, InitializeResult>('initialize', RESTRICTED),
  accountRead: request<ReadParams, ReadResult>('account/read', RESTRICTED),
  accountToken: request<TokenParams, TokenResult>('account/token', RESTRICTED),
  accountSession: request<Empty, SessionResult>('account/session', RESTRICTED),
  // The active account's usage only, there (account/rateLimits/read with `account` is refused).
  rateLimitsRead: request<RateLimitsReadParams, RateLimitsReadResult>('account/rateLimits/read', RESTRICTED),
  /** Polls every account's usage (at most once a minute each) until unsubscribed or disconnected. */
  rateLimitsSubscribe: request<Empty, Empty>('account/rateLimits/subscribe', RESTRICTED),
  rateLimitsUnsubscribe: request<Empty, Empty>('account/rateLimits/unsubscribe', RESTRICTED),
  // Login management and the daemon's own control (whose answers carry local paths) stay on the main socket.
  loginStart: request<LoginStartParams, LoginStartResult>('account/login/start'),
  loginCancel: request<LoginCancelParams, LoginCancelResult>('account/login/cancel'),
  logout: request<LogoutParams, LogoutResult>('account/logout'),
  accountList: request<Empty, ListResult>('account/list'),
  accountSwitch: request<SwitchParams, AccountSummary>('account/switch'),
  accountUsageList: request<UsageListParams, UsageListResult>('account/usage/list'),
  daemonStatus: request<Empty, DaemonStatus>('daemon/status'),
  daemonShutdown: request<Empty, Empty>('daemon/shutdown'),
} as const;

export type Requests = typeof Requests;

export const Notifications = {
  accountUpdated: notification<AccountUpdated>('account/updated', RESTRICTED),
  /** On the restricted socket, the active account's only. */
  rateLimitsUpdated: notification<RateLimitsUpdated>('account/rateLimits/updated', RESTRICTED),
  // Login management: nobody on the restricted socket can start a login, so none completes there.
  loginCompleted: notification<LoginCompleted>('account/login/completed'),
} as const;
