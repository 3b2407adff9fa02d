// The restricted socket (issue 13): the one forwarded to remote machines and containers. It
// serves initialize, account/read, account/token and account/session and sends account/updated;
// every other request is refused with -33005 and changes nothing on this machine. It sits beside
// the main socket, under the same folder checks, and `off` turns it off.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCodes, PROTOCOL_VERSION, Requests, type ParamsOf } from '../shared/protocol.js';
import { cli, client, rawCall, restrictedSocket, startDaemon, watch } from './helpers.js';
import { refreshRequests, scene } from './refresh-support.js';

/** One call of every request in the protocol: adding a request breaks this file's build until it is listed. */
const CALLS: { [K in keyof typeof Requests]: ParamsOf<(typeof Requests)[K]> } = {
  initialize: { clientInfo: { name: 'remote', version: '1' } },
  accountRead: {},
  accountToken: {},
  accountSession: {},
  rateLimitsRead: {},
  rateLimitsSubscribe: {},
  rateLimitsUnsubscribe: {},
  loginStart: { type: 'apiKey', apiKey: 'sk-from-the-remote-side-0123456789' },
  loginCancel: { loginId: 'any' },
  logout: {},
  accountList: {},
  accountSwitch: { name: 'any' },
  accountUsageList: {},
  daemonStatus: {},
  daemonShutdown: {},
};

describe('the restricted socket', () => {
  it('forced refreshes in a loop spend one grant: from the restricted socket none within 60 s of the last, from the main one none within 10 s', async (t) => {
    const s = await scene(t);
    const login = s.writeFixture({ accessExpiresInS: 3600 });
    await s.start();
    const restricted = restrictedSocket(s.box);
    const tokens = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const method = i % 4 === 3 ? Requests.accountRead.method : Requests.accountToken.method;
      const reply = await rawCall(restricted, method, method === Requests.accountRead.method ? { refreshToken: true } : { forceRefresh: true });
      assert.ok(reply.result, JSON.stringify(reply.error));
      if (method === Requests.accountToken.method) tokens.add((reply.result as { accessToken: string }).accessToken);
    }
    assert.equal(refreshRequests(s.issuer).length, 1, 'one grant for forty forced refreshes');
    assert.equal(tokens.size, 1);
    assert.ok(!tokens.has(login.tokens.access_token), 'the fresh token, not the one before');
    const c = await s.client();
    for (let i = 0; i < 20; i++) await c.token({ forceRefresh: true });
    assert.equal(refreshRequests(s.issuer).length, 1, 'the main socket gets the same fresh token');
  });

  it('serves initialize, account/read, account/token and account/session, refuses every other request with -33005, and nothing changes', async (t) => {
    const s = await scene(t);
    const login = s.writeFixture();
    writeFileSync(join(s.box.codexHome, 'config.toml'), 'chatgpt_base_url = "http://127.0.0.1:9/backend-api/"\n');
    const daemon = await s.start();
    const restricted = restrictedSocket(s.box);
    assert.equal(lstatSync(restricted).mode & 0o777, 0o600);
    const authBefore = readFileSync(s.authFile, 'utf8');
    const issuerCalls = s.issuer.requests.length;

    const served: string[] = [];
    for (const [key, params] of Object.entries(CALLS)) {
      const { method } = Requests[key as keyof typeof Requests];
      const reply = await rawCall(restricted, method, params);
      // Served, whatever the answer (the usage of this scene's login cannot be read: its backend is a closed port).
      if (reply.result !== undefined || reply.error?.code !== ErrorCodes.restricted) {
        served.push(method);
        continue;
      }
      assert.equal(reply.error?.code, ErrorCodes.restricted, `${method}: ${JSON.stringify(reply)}`);
      assert.equal(
        reply.error.message,
        `${method} is not served on the restricted socket, which is forwarded from the machine that holds the login; run it on that machine`,
      );
    }
    assert.deepEqual(served, ['initialize', 'account/read', 'account/token', 'account/session', 'account/rateLimits/read', 'account/rateLimits/subscribe', 'account/rateLimits/unsubscribe']);

    // What it serves: the login's access token and session, never the refresh token, and no local path.
    const init = (await rawCall(restricted, Requests.initialize.method)).result as Record<string, unknown>;
    assert.deepEqual(init, { serverInfo: init['serverInfo'], protocolVersion: PROTOCOL_VERSION, issuer: s.issuer.url, clientId: init['clientId'], startedBy: 'user', instanceIds: init['instanceIds'] });
    const token = (await rawCall(restricted, Requests.accountToken.method)).result as { accessToken: string };
    assert.equal(token.accessToken, login.tokens.access_token);
    const named = await rawCall(restricted, Requests.accountToken.method, { account: 'other' });
    assert.equal(named.error?.code, ErrorCodes.restricted, 'only the active login, not every account by name');
    assert.match(named.error.message, /^account\/token for a named account is not served on the restricted socket/);
    const session = await rawCall(restricted, Requests.accountSession.method);
    assert.ok(!JSON.stringify(session).includes(login.tokens.refresh_token), 'no refresh token');

    // Refused login, logout and shutdown changed nothing: same daemon, same file, no login pending, no request to the issuer.
    assert.equal(daemon.proc.exitCode, null, 'still running');
    const main = await s.client();
    const status = await main.read();
    assert.equal(status.state, 'ok');
    assert.equal(status.login, null, 'no login started');
    assert.equal(readFileSync(s.authFile, 'utf8'), authBefore, 'auth.json untouched');
    assert.equal(s.issuer.requests.length, issuerCalls, 'no revocation, no refresh');
    assert.equal((await main.daemonStatus()).restrictedSocket, restricted);
  });

  it('sends account/updated to its clients, and not account/login/completed', async (t) => {
    const s = await scene(t);
    await s.start();
    const main = await s.client();
    const remote = await client(s.box, restrictedSocket(s.box));
    t.after(() => remote.close());
    const { updates, completed } = watch(remote);
    const mainCompleted = watch(main).completed;

    await main.loginStart({ type: 'apiKey', apiKey: 'sk-restricted-updates-0123456789' });
    await updates.next((status) => status.account?.type === 'apiKey');

    // A login that ends (here: cancelled) is announced on the main socket only; the account/updated
    // sent after it reaches the restricted client, so a login/completed would have come first.
    const device = await main.loginStart({ type: 'chatgptDeviceCode' });
    assert.equal(device.type, 'chatgptDeviceCode');
    await updates.next((status) => status.login !== null);
    const seen = updates.values.length;
    await main.loginCancel(device.type === 'chatgptDeviceCode' ? device.loginId : '');
    await mainCompleted.next();
    await updates.next((status) => updates.values.indexOf(status) >= seen && status.login === null);
    assert.deepEqual(completed.values, []);
  });

  it('codex-auth token and status work on it; logout there is refused in one line, exit status 1', async (t) => {
    const s = await scene(t);
    const login = s.writeFixture();
    await s.start();
    const socket = ['--socket', restrictedSocket(s.box), '--no-autostart'];
    const token = await cli(s.box, ['token', ...socket]);
    assert.deepEqual(token, { code: 0, stdout: `${login.tokens.access_token}\n`, stderr: '' });
    const status = await cli(s.box, ['status', ...socket]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^Logged in using ChatGPT/);
    const logout = await cli(s.box, ['logout', ...socket]);
    assert.equal(logout.code, 1);
    assert.equal(logout.stderr, 'codex-auth: this socket only lends tokens: it is forwarded from the machine that holds the login; run `codex-auth logout` there\n');
    assert.ok(existsSync(s.authFile), 'still logged in');
  });

  it('is off with CODEXD_RESTRICTED_SOCKET=off', async (t) => {
    const s = await scene(t, { CODEXD_RESTRICTED_SOCKET: 'off' });
    await s.start();
    assert.equal(existsSync(restrictedSocket(s.box)), false);
    assert.equal((await (await s.client()).daemonStatus()).restrictedSocket, null);
  });

  it('a daemon whose restricted socket file was deleted steps aside too', { timeout: 30_000 }, async (t) => {
    const s = await scene(t);
    const daemon = await s.start();
    unlinkSync(restrictedSocket(s.box));
    const { code } = await daemon.exited;
    assert.equal(code, 0);
    assert.equal(existsSync(s.box.socket), false, 'and removed its main socket');
    assert.match(s.log(), /the socket file \S+codexd\.restricted\.sock was removed or replaced/);
  });
});

describe('CODEXD_RESTRICTED_SOCKET', () => {
  it('puts it elsewhere, under the same folder checks as the main socket', async (t) => {
    const s = await scene(t);
    const elsewhere = join(s.box.dir, 'run', 'remote', 'r.sock');
    await s.start({ env: { CODEXD_RESTRICTED_SOCKET: elsewhere } });
    assert.equal(lstatSync(dirname(elsewhere)).mode & 0o777, 0o700, 'its folder created 0700');
    assert.equal((await (await s.client()).daemonStatus()).restrictedSocket, elsewhere);
    assert.equal((await rawCall(elsewhere, Requests.logout.method)).error?.code, ErrorCodes.restricted);
  });

  it('refuses a folder open to others, or owned by another user, and a file that is not a socket, in one line', async (t) => {
    const s = await scene(t);
    const open = join(s.box.dir, 'open');
    mkdirSync(open, { mode: 0o700 });
    chmodSync(open, 0o755);
    const file = join(s.box.dir, 'run', 'a-file');
    writeFileSync(file, 'keep me\n');
    const cases = [
      { path: join(open, 'r.sock'), says: /^codexd: socket folder \S+\/open has mode 0755, open to other users; run `chmod 700 \S+` or choose another CODEXD_RESTRICTED_SOCKET \(or set it to off\)$/ },
      { path: file, says: /^codexd: \S+\/a-file is a regular file, not a socket; refusing to replace it \(choose another CODEXD_RESTRICTED_SOCKET \(or set it to off\)\)$/ },
    ];
    if (process.getuid?.() === 0) {
      const theirs = join(s.box.dir, 'theirs');
      mkdirSync(theirs, { mode: 0o700 });
      chownSync(theirs, 65534, 65534);
      cases.push({ path: join(theirs, 'r.sock'), says: /^codexd: socket folder \S+\/theirs is owned by uid 65534, not by you \(uid 0\); refusing to use it$/ });
    } else t.diagnostic('not root: the case of a folder owned by another user is left out');
    for (const { path, says } of cases) {
      const daemon = await startDaemon(s.box, { env: { CODEXD_RESTRICTED_SOCKET: path }, waitReady: false });
      const { code } = await daemon.exited;
      assert.notEqual(code, 0);
      assert.match(daemon.stderr().trimEnd(), says);
      assert.equal(existsSync(s.box.socket), false, 'the main socket is not left behind');
    }
    assert.equal(readFileSync(file, 'utf8'), 'keep me\n');
  });
});
