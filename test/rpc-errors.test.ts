// The RPC layer is the one place where domain errors become JSON-RPC errors: each domain error
// gets its code and message, and anything else a handler throws (a bug, such as a TypeError)
// is -32603 and logged with its stack, never mistaken for a failed login.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes } from '../shared/errors.js';
import { frame } from '../shared/framing.js';
import { defaultLimits } from '../shared/transport.js';
import { AccountNotFound, IssuerUnavailable, LoginFailed, NotLoggedIn, ReauthRequired, StorageFailed } from '../daemon/errors.js';
import { IssuerError, type IssuerClient } from '../daemon/auth/issuer.js';
import { createLogger } from '../daemon/runtime/log.js';
import { Logins } from '../daemon/login/logins.js';
import { RpcServer, type RequestDispatch } from '../daemon/rpc/server.js';
import type { Settings } from '../daemon/runtime/settings.js';
import { AuthStore } from '../daemon/auth/store.js';

/** Sends one request on a fresh connection and resolves with the error of its response. */
function errorOf(socket: string, method: string): Promise<{ code: number; message: string }> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let text = '';
    conn.on('error', reject);
    conn.on('data', (chunk) => {
      text += chunk.toString();
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      try {
        const reply = JSON.parse(body) as { error: { code: number; message: string } };
        conn.destroy();
        resolve(reply.error);
      } catch {
        // not all of it yet
      }
    });
    conn.write(frame({ jsonrpc: '2.0', id: 1, method, params: {} }));
  });
}

describe('domain errors become JSON-RPC errors in the RPC layer only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'codexd-rpc-'));
  const socket = join(dir, 's.sock');
  const logFile = join(dir, 'log.json');
  const throwing = (error: Error): RequestDispatch => () => Promise.reject(error);
  const handlers = new Map<string, RequestDispatch>([
    ['bug', () => (undefined as unknown as { type: string }).type],
    ['notLoggedIn', throwing(new NotLoggedIn('Not logged in.'))],
    ['reauth', throwing(new ReauthRequired('Log in again.'))],
    ['issuer', throwing(new IssuerUnavailable('The issuer is down.'))],
    ['login', throwing(new LoginFailed('Port 1455 is in use.'))],
    ['storage', throwing(new StorageFailed('Could not save auth.json: ENOSPC'))],
    ['account', throwing(new AccountNotFound('No account is named "work".'))],
  ]);
  const server = new RpcServer({ restricted: false, maxConnections: 8, limits: defaultLimits, handlers, log: createLogger({ level: 'error', file: logFile }), activity: { touch: () => undefined } });

  before(() => new Promise<void>((resolve) => server.server.listen(socket, resolve)));
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives each domain error its code and its own message', async () => {
    assert.deepEqual(await errorOf(socket, 'notLoggedIn'), { code: ErrorCodes.notLoggedIn, message: 'Not logged in.' });
    assert.deepEqual(await errorOf(socket, 'reauth'), { code: ErrorCodes.reauthRequired, message: 'Log in again.' });
    assert.deepEqual(await errorOf(socket, 'issuer'), { code: ErrorCodes.issuerUnavailable, message: 'The issuer is down.' });
    assert.deepEqual(await errorOf(socket, 'login'), { code: ErrorCodes.loginFailed, message: 'Port 1455 is in use.' });
    assert.deepEqual(await errorOf(socket, 'storage'), { code: ErrorCodes.storageFailed, message: 'Could not save auth.json: ENOSPC' });
    assert.deepEqual(await errorOf(socket, 'account'), { code: ErrorCodes.accountNotFound, message: 'No account is named "work".' });
  });

  it('answers a bug with an internal error and logs its stack', async () => {
    const error = await errorOf(socket, 'bug');
    assert.equal(error.code, ErrorCodes.internalError);
    assert.match(error.message, /^codexd failed to handle bug: Cannot read properties of undefined/);
    const log = readFileSync(logFile, 'utf8');
    assert.match(log, /"msg":"request failed"/);
    assert.match(log, /TypeError: Cannot read properties of undefined[^"]*\\n\s+at /);
  });
});

describe('a login that cannot start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'codexd-logins-'));
  const log = createLogger({ level: 'silent', file: null });
  const peer = { restricted: false, onClose: () => () => undefined };
  /** Logins whose issuer fails the device-code request with `error`. */
  const loginsFailingWith = (error: Error): Logins => {
    const issuer = { requestUserCode: () => Promise.reject(error) } as unknown as IssuerClient;
    return new Logins(new AuthStore(dir, 1000), issuer, () => Promise.resolve(null), { deviceCodeTimeoutS: 60 } as Settings, log);
  };
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is a LoginFailed when the issuer refused', async () => {
    const logins = loginsFailingWith(new IssuerError('device code request failed with status 403', 'permanent'));
    await assert.rejects(logins.start({ type: 'chatgptDeviceCode', keepAfterDisconnect: false }, peer), { name: 'LoginFailed', message: 'device code request failed with status 403' });
  });

  it('is the bug itself, not a LoginFailed, when the code broke', async () => {
    const logins = loginsFailingWith(new TypeError('Cannot read properties of undefined'));
    await assert.rejects(logins.start({ type: 'chatgptDeviceCode', keepAfterDisconnect: false }, peer), TypeError);
  });
});
