// Error codes and the client's error class: dependency-free, so that `codex-auth token` can
// report errors without loading the JSON-RPC library at all.

/**
 * JSON-RPC's own codes, then codexd's: one per domain error, from -33001, outside the range
 * JSON-RPC reserves (-32768 to -32000), which libraries use for their own errors. Nothing else
 * goes on the wire (docs/protocol.md lists them, with protocol 1's codes).
 */
export const ErrorCodes = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  notLoggedIn: -33001,
  reauthRequired: -33002,
  issuerUnavailable: -33003,
  loginFailed: -33004,
  /** The method is not served on the restricted socket (docs/remote.md). */
  restricted: -33005,
  /** A follower (codexd --upstream) does not log in or out: the login lives on the upstream machine. */
  loginUpstream: -33006,
  accountNotFound: -33007,
  credentialStoreUnavailable: -33008,
  /** auth.json (or an account file) could not be written. */
  storageFailed: -33009,
  /** The daemon has as many connections as CODEXD_MAX_CONNECTIONS allows; sent with id null before it closes the connection. */
  tooManyConnections: -33010,
  /** An API key has no ChatGPT usage or limits to read. */
  noChatgptUsage: -33011,
  /** The ChatGPT backend could not give an account's usage (unreachable, refused, or an answer of unknown shape). */
  usageUnavailable: -33012,
} as const;

/** Protocol 1's codes (codexd 0.1), which sat in JSON-RPC's reserved range, and what each became. */
const PROTOCOL_1_CODES: Readonly<Record<number, number>> = {
  [-32000]: ErrorCodes.tooManyConnections,
  [-32001]: ErrorCodes.notLoggedIn,
  [-32002]: ErrorCodes.reauthRequired,
  [-32003]: ErrorCodes.issuerUnavailable,
  [-32004]: ErrorCodes.loginFailed,
  [-32005]: ErrorCodes.restricted,
  [-32006]: ErrorCodes.loginUpstream,
  [-32007]: ErrorCodes.accountNotFound,
  [-32008]: ErrorCodes.credentialStoreUnavailable,
};

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** An error code as a daemon speaking protocol `version` sends it, in this version's terms. */
export function codeFromProtocol(version: number, code: number): number {
  return version === 1 ? (PROTOCOL_1_CODES[code] ?? code) : code;
}

/** A JSON-RPC error from the daemon; `code` is one of `ErrorCodes`. */
export class CodexdError extends Error {
  override name = 'CodexdError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The daemon cannot be reached, or must not be talked to; the CLI exits 2. */
export class DaemonUnreachableError extends Error {
  override name = 'DaemonUnreachableError';
}

/** The connection closed (or the peer broke the framing) before the answer came. */
export class ConnectionLost extends DaemonUnreachableError {
  override name = 'ConnectionLost';
}

/** The peer did not answer within the time the request was given. */
export class NoAnswer extends DaemonUnreachableError {
  override name = 'NoAnswer';
}

/** The socket path is unusable or untrusted, or the daemon there serves another home: nothing was sent. */
export class SocketRefusedError extends DaemonUnreachableError {
  override name = 'SocketRefusedError';
}

/** A setting (flag, variable or settings file) is invalid; the CLI exits 2. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}
