// One handler per request of "Protocol" in the README. Each checks its params and calls the account service.
import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCodes, Methods, PROTOCOL_VERSION, type DaemonStatus, type LoginStartParams } from '../shared/protocol.js';
import type { AccountService } from './account.js';
import type { Handler } from './server.js';

type Params = Record<string, unknown>;

function invalid(message: string): ResponseError<void> {
  return new ResponseError(ErrorCodes.invalidParams, `Invalid params: ${message}`);
}

function paramsObject(params: unknown): Params {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw invalid('params must be an object');
  return params as Params;
}

function optionalBoolean(params: Params, key: string): boolean {
  const value = params[key];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalid(`${key} must be a boolean`);
  return value;
}

function requiredString(params: Params, key: string): string {
  const value = params[key];
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${key} must be a non-empty string`);
  return value;
}

/** Real keys are about 200 bytes; anything near this is not a key (and would be held in memory). */
const MAX_API_KEY_BYTES = 4096;

function apiKey(params: Params): string {
  const key = requiredString(params, 'apiKey').trim();
  if (Buffer.byteLength(key) > MAX_API_KEY_BYTES) throw invalid('apiKey is longer than 4 KiB');
  return key;
}

function loginParams(params: Params): LoginStartParams {
  switch (params['type']) {
    case 'apiKey':
      return { type: 'apiKey', apiKey: apiKey(params) };
    case 'chatgpt':
      return { type: 'chatgpt', openBrowser: optionalBoolean(params, 'openBrowser'), keepAfterDisconnect: optionalBoolean(params, 'keepAfterDisconnect') };
    case 'chatgptDeviceCode':
      return { type: 'chatgptDeviceCode', keepAfterDisconnect: optionalBoolean(params, 'keepAfterDisconnect') };
    default:
      throw invalid('type must be "apiKey", "chatgpt" or "chatgptDeviceCode"');
  }
}

export interface DaemonInfo {
  version: string;
  /** What this daemon serves; clients compare it with what they would use (see initialize in the README). */
  serves: { codexHome: string; issuer: string; clientId: string };
  status(): DaemonStatus;
  shutdown(): void;
}

export function createHandlers(account: AccountService, daemon: DaemonInfo): Map<string, Handler> {
  const handlers: Array<[string, Handler]> = [
    [Methods.initialize.method, (p) => {
      const info = paramsObject(p)['clientInfo'] as Params | undefined;
      if (info !== undefined && (typeof info !== 'object' || info === null || typeof info['name'] !== 'string' || typeof info['version'] !== 'string')) {
        throw invalid('clientInfo must be {name: string, version: string}');
      }
      return { serverInfo: { name: 'codexd', version: daemon.version }, protocolVersion: PROTOCOL_VERSION, ...daemon.serves };
    }],
    [Methods.accountRead.method, (p) => account.read(optionalBoolean(paramsObject(p), 'refreshToken'))],
    [Methods.accountToken.method, (p) => account.token(optionalBoolean(paramsObject(p), 'forceRefresh'))],
    [Methods.loginStart.method, (p, peer) => account.startLogin(loginParams(paramsObject(p)), peer)],
    [Methods.loginCancel.method, (p) => ({ status: account.cancelLogin(requiredString(paramsObject(p), 'loginId')) })],
    [Methods.logout.method, (p) => {
      paramsObject(p);
      return account.logout();
    }],
    [Methods.daemonStatus.method, (p) => {
      paramsObject(p);
      return daemon.status();
    }],
    [Methods.daemonShutdown.method, (p) => {
      paramsObject(p);
      setImmediate(() => daemon.shutdown());
      return {};
    }],
  ];
  return new Map(handlers);
}
