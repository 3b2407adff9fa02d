// What can go wrong for a client, as plain classes. The RPC layer (rpc/server.ts) is the one place
// that turns them into JSON-RPC errors; anything else thrown by a handler is a bug (-32603).
import { KeyringUnavailable } from './keyring/client.js';

export class DomainError extends Error {}

/** No usable auth.json. */
export class NotLoggedIn extends DomainError {
  override name = 'NotLoggedIn';
}

/** The refresh token is dead: only a new login helps. */
export class ReauthRequired extends DomainError {
  override name = 'ReauthRequired';
}

/** The issuer could not give a token the client needs now. */
export class IssuerUnavailable extends DomainError {
  override name = 'IssuerUnavailable';
}

/** A login could not start (busy port, issuer refused, superseded, read-only home). */
export class LoginFailed extends DomainError {
  override name = 'LoginFailed';
}

/** auth.json could not be changed (a read-only home, a failed write). */
export class StorageFailed extends DomainError {
  override name = 'StorageFailed';
}

/** This daemon is a follower: logging in or out happens on the upstream machine. */
export class LoginUpstream extends DomainError {
  override name = 'LoginUpstream';
}

/** No account has the name asked for. */
export class AccountNotFound extends DomainError {
  override name = 'AccountNotFound';
}

/** The OS keyring, where config.toml keeps the login, could not be read or written. */
export class CredentialStoreUnavailable extends DomainError {
  override name = 'CredentialStoreUnavailable';
}

/** An API key has no ChatGPT usage or limits. */
export class NoChatgptUsage extends DomainError {
  override name = 'NoChatgptUsage';
}

/** The ChatGPT backend could not give an account's usage. */
export class UsageUnavailable extends DomainError {
  override name = 'UsageUnavailable';
}

/** A login, logout or switch that could not be saved, as clients see it: never reported as a success. */
export function saveFailure(error: unknown, action?: string): DomainError {
  const message = (error as Error).message;
  if (error instanceof KeyringUnavailable) return new CredentialStoreUnavailable(`${action ?? 'Could not save the login'}: ${message}`);
  return new StorageFailed(`${action ?? 'Could not save auth.json'}: ${message}`);
}
