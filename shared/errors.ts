// Error codes and the client's error class: dependency-free, so that `codex-auth token` can
// report errors without loading the JSON-RPC library at all.

export const ErrorCodes = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  notLoggedIn: -32001,
  reauthRequired: -32002,
  issuerUnavailable: -32003,
  loginFailed: -32004,
  /** The method is not served on the restricted socket (docs/remote.md). */
  restricted: -32005,
  /** A follower (codexd --upstream) does not log in or out: the login lives on the upstream machine. */
  loginUpstream: -32006,
  accountNotFound: -32007,
  credentialStoreUnavailable: -32008,
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** An error code as a daemon speaking protocol `version` sends it, in this version's terms. */
export function codeFromProtocol(_version: number, code: number): number {
  return code;
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
