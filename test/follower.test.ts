// Follower mode on one machine (issue 13): an upstream codexd holding a login from the fake
// issuer, and a follower (`codexd --upstream`) with a CODEX_HOME of its own. The follower mirrors
// the login into its auth.json without the refresh token, serves status and tokens from it,
// refuses logins and logouts, never talks to an issuer, and rides out the upstream going away.
import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes, type CodexdClient, type Status } from '../client/index.js';
import { FOLLOWER_REFRESH_TOKEN } from '../shared/paths.js';
import { startFakeIssuer, type FakeIssuer } from '../support/fake-issuer.js';
import { authPath, cli, client, fileSandbox, hasAuth, readAuth, recorder, rpcError, startDaemon, stopDaemons, waitFor, type Daemon, type Sandbox } from './helpers.js';
import { codexAuthJson, codexTimestamp, readJson, refreshRequests, writeAtomically } from './refresh-support.js';
import { cliOnPty } from './pty.js';

let issuer: FakeIssuer;
/** The follower's own issuer setting points here: any request it sent would show up. */
let followerIssuer: FakeIssuer;
const daemons: Daemon[] = [];
const clients: CodexdClient[] = [];

before(async () => {
  issuer = await startFakeIssuer();
  followerIssuer = await startFakeIssuer();
});

after(async () => {
  for (const c of clients) await c.close();
  await stopDaemons(daemons);
  await issuer.close();
  await followerIssuer.close();
});

async function daemon(b: Sandbox): Promise<Daemon> {
  const d = await startDaemon(b);
  daemons.push(d);
  return d;
}

async function connected(b: Sandbox): Promise<CodexdClient> {
  const c = await client(b);
  clients.push(c);
  return c;
}

/** An upstream codexd holding a ChatGPT login from the fake issuer. */
function upstreamBox(env: NodeJS.ProcessEnv = {}): Sandbox {
  const up = fileSandbox({ CODEXD_ISSUER: issuer.url, ...env });
  const tokens = issuer.mintTokens({ accessExpiresInS: 3600 });
  writeAtomically(up.codexHome, codexAuthJson(tokens, issuer.account.accountId, codexTimestamp(Date.now())));
  return up;
}

function followerBox(upstreamSocket: string): Sandbox {
  return fileSandbox({ CODEXD_UPSTREAM: upstreamSocket, CODEXD_ISSUER: followerIssuer.url });
}

/** The follower's auth.json once it holds `accessToken`. */
function mirrored(b: Sandbox, accessToken: string, timeoutMs = 10_000): Promise<ReturnType<typeof readJson>> {
  return waitFor(() => {
    if (!hasAuth(b)) return null;
    const auth = readJson(authPath(b));
    return auth.tokens?.access_token === accessToken ? auth : null;
  }, 'the follower to mirror the upstream token', timeoutMs);
}

describe('a follower on the same machine', () => {
  it('mirrors the login, follows refreshes within 2 s, serves it, refuses login and logout, and never calls an issuer', async () => {
    const up = upstreamBox();
    await daemon(up);
    const upClient = await connected(up);
    const fo = followerBox(up.socket);
    await daemon(fo);

    const first = readJson(authPath(up));
    const copy = await mirrored(fo, first.tokens.access_token);
    assert.deepEqual(copy, { ...first, tokens: { ...first.tokens, refresh_token: FOLLOWER_REFRESH_TOKEN } }, 'the upstream login, in Codex format, without its refresh token');
    assert.equal(statSync(authPath(fo)).mode & 0o777, 0o600);
    assert.ok(!readAuth(fo).includes(first.tokens.refresh_token));

    // The upstream refreshes: the follower's auth.json has the new token within 2 s.
    const before = refreshRequests(issuer).length;
    const refreshed = await upClient.token({ forceRefresh: true });
    const refreshedAt = Date.now();
    assert.equal(refreshRequests(issuer).length, before + 1);
    assert.equal(refreshed.type, 'chatgpt');
    const newToken = (refreshed as { accessToken: string }).accessToken;
    const second = await mirrored(fo, newToken);
    const tookMs = Date.now() - refreshedAt;
    assert.ok(tookMs < 2000, `mirrored ${tookMs} ms after the refresh`);
    assert.equal(second.last_refresh, readJson(authPath(up)).last_refresh, 'last_refresh from the upstream');
    assert.equal(second.tokens.refresh_token, FOLLOWER_REFRESH_TOKEN);

    // Status and token come from the mirror.
    const token = await cli(fo, ['token']);
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.stdout.trim(), newToken);
    const status = await cli(fo, ['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^Logged in using ChatGPT as dev@example\.com \(pro\)$/m);
    assert.match(status.stdout, new RegExp(`^  upstream: +connected since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z .*, ${up.socket.replace(/[.]/g, '\\.')}$`, 'm'));
    const foClient = await connected(fo);
    const read = await foClient.read();
    assert.equal(read.upstream?.path, up.socket);
    assert.equal(read.upstream?.state, 'connected');
    assert.equal(read.nextRefreshAt, null, 'a follower plans no refresh');

    // Logins and logouts belong upstream: -33006, naming it; the upstream is left as it was.
    const upstreamFile = readAuth(up);
    const loginError = await rpcError(foClient.loginStart({ type: 'apiKey', apiKey: 'sk-follower-must-not-store-this' }));
    assert.equal(loginError.code, ErrorCodes.loginUpstream);
    assert.match(loginError.message, new RegExp(`^The login lives on the upstream machine \\(the upstream codexd on ${up.socket.replace(/[.]/g, '\\.')} \\(CODEX_HOME ${up.codexHome} there\\)\\): run \`codex-auth login\` there\\.$`));
    assert.equal((await rpcError(foClient.loginStart({ type: 'chatgptDeviceCode' }))).code, ErrorCodes.loginUpstream);
    assert.equal((await rpcError(foClient.logout())).code, ErrorCodes.loginUpstream);
    const logout = await cli(fo, ['logout']);
    assert.equal(logout.code, 1);
    assert.match(logout.stderr, /^codex-auth: The login lives on the upstream machine \(.*\): run `codex-auth logout` there\.\n$/);
    const login = await cli(fo, ['login', '--with-api-key'], { input: 'sk-follower-must-not-store-this' });
    assert.equal(login.code, 1);
    assert.match(login.stderr, /run `codex-auth login` there/);
    const onTerminal = cliOnPty(fo, ['login'], { CODEXD_NO_AUTOSTART: '1' });
    assert.equal(await onTerminal.exitStatus(), 1, onTerminal.output());
    assert.match(onTerminal.output(), /Login failed: this codexd follows the upstream codexd on .*: run `codex-auth login` there\./);
    assert.ok(!onTerminal.output().includes('How do you want to sign in'), 'no sign-in menu first');
    assert.equal(readAuth(up), upstreamFile, 'the upstream login is unchanged');
    assert.equal((await upClient.read()).state, 'ok');
    assert.equal(readJson(authPath(fo)).tokens.access_token, newToken, 'the mirror is unchanged');

    // When the upstream logs out, so does the mirror.
    await upClient.logout();
    await waitFor(() => !hasAuth(fo), 'the follower to remove its auth.json');
    const loggedOut = await foClient.read();
    assert.equal(loggedOut.state, 'loggedOut');
    assert.match(loggedOut.reauthReason ?? '', /answered: Not logged in/);
    assert.equal((await rpcError(foClient.token())).code, ErrorCodes.notLoggedIn);

    assert.deepEqual(followerIssuer.requests, [], 'the follower sent nothing to an issuer');
  });

  it('keeps serving the last token while the upstream is gone, until it expires; then reauthRequired; and recovers when it is back', async () => {
    const up = upstreamBox({ CODEXD_REFRESH_MARGIN_S: '0' });
    const upstream = await daemon(up);
    const upClient = await connected(up);
    const fo = followerBox(up.socket);
    await daemon(fo);
    const foClient = await connected(fo);
    const updates = recorder<Status>((listener) => foClient.onAccountUpdated(listener));

    // A token that expires soon, mirrored; then the upstream dies before it could refresh it.
    issuer.accessTokenTtlS = 8;
    const shortLived = await upClient.token({ forceRefresh: true });
    issuer.accessTokenTtlS = 3600;
    const short = (shortLived as { accessToken: string; expiresAt: string }).accessToken;
    await mirrored(fo, short);
    await upClient.close();
    await upstream.stop('SIGKILL');
    const down = await updates.next((s) => s.upstream?.state === 'disconnected');
    assert.equal(down.state, 'ok', 'the token is still good');

    const expiresAt = Date.parse((shortLived as { expiresAt: string }).expiresAt);
    const served = await foClient.token().then(
      (token) => (token as { accessToken: string }).accessToken,
      (error: Error) => error,
    );
    // Served while the link is down; refused only once the token has expired (a loaded machine may answer that late).
    if (typeof served === 'string') assert.equal(served, short, 'served while the link is down');
    else assert.ok(Date.now() >= expiresAt, `refused ${expiresAt - Date.now()} ms before the token expired: ${served.message}`);
    const status = await cli(fo, ['status']);
    assert.match(status.stdout, /^  upstream: +disconnected since /m);

    // The follower itself announces the expiry: no request is needed to see it.
    const expired = await updates.next((s) => s.state === 'reauthRequired', 20_000);
    assert.ok(Date.now() >= expiresAt);
    assert.match(expired.reauthReason ?? '', /^the link to the upstream codexd on .* is down since \S+Z( \(.*\))?, and the access token expired at \S+Z$/);
    const refused = await rpcError(foClient.token());
    assert.equal(refused.code, ErrorCodes.reauthRequired);
    assert.match(refused.message, /is down since .*, and the access token expired at /);
    const reauth = await cli(fo, ['status']);
    assert.equal(reauth.code, 1);
    assert.match(reauth.stdout, /^No usable token for dev@example\.com \(pro\): the link to the upstream codexd on .* is down since/m);

    // The upstream comes back (it refreshes the expired token at start): the follower reconnects and recovers.
    const seen = updates.values.length;
    await daemon(up);
    const back = await waitFor(() => updates.values.slice(seen).find((s) => s.upstream?.state === 'connected'), 'the follower to reconnect', 60_000);
    assert.equal(back.state, 'ok');
    assert.ok(Date.parse(back.accessTokenExpiresAt!) > Date.now() + 30 * 60_000, 'announced with the fresh token');
    const upToken = readJson(authPath(up)).tokens.access_token;
    await mirrored(fo, upToken);
    assert.equal(((await foClient.token()) as { accessToken: string }).accessToken, upToken);
    assert.deepEqual(followerIssuer.requests, [], 'the follower sent nothing to an issuer');
  });
});

describe('a follower and a login of its own', () => {
  it('refuses to start on a CODEX_HOME whose auth.json has a refresh token, and leaves it alone', async () => {
    const up = upstreamBox();
    await daemon(up);
    const fo = followerBox(up.socket);
    writeAtomically(fo.codexHome, codexAuthJson(followerIssuer.mintTokens(), followerIssuer.account.accountId, codexTimestamp(Date.now())));
    const own = readAuth(fo);
    const refused = await startDaemon(fo, { waitReady: false });
    const { code } = await refused.exited;
    assert.equal(code, 1);
    assert.equal(refused.stderr(), `codexd: ${authPath(fo)} holds a login of its own (a ChatGPT login with a refresh token), which following ${up.socket} would overwrite; log it out first (codex-auth logout, without --upstream), or follow into another CODEX_HOME\n`);
    assert.equal(readAuth(fo), own);
  });
});

describe('a follower\'s mirror in a daemon that is not a follower', () => {
  it('is never refreshed: no request carries the marker, and the status says what to do', async () => {
    const b = fileSandbox({ CODEXD_ISSUER: issuer.url });
    const tokens = issuer.mintTokens({ accessExpiresInS: 30 }); // due at once
    writeAtomically(b.codexHome, codexAuthJson({ ...tokens, refresh_token: FOLLOWER_REFRESH_TOKEN }, issuer.account.accountId, codexTimestamp(Date.now())));
    const before = refreshRequests(issuer).length;
    await daemon(b);
    const error = await rpcError((await connected(b)).token());
    assert.equal(error.code, ErrorCodes.reauthRequired);
    assert.match(error.message, /auth\.json is a codexd follower's copy of another machine's login, whose refresh token stays there: follow that machine again \(codexd --upstream\), or sign in here\./);
    assert.equal(refreshRequests(issuer).length, before, 'no refresh request');
  });
});

describe('autostart in follower mode', () => {
  /** A sandbox with an upstream codexd listening at its conventional path, $XDG_RUNTIME_DIR/codexd/upstream.sock. */
  async function withConventionalUpstream(): Promise<{ up: Sandbox; fo: Sandbox }> {
    const fo = fileSandbox({ CODEXD_ISSUER: followerIssuer.url });
    mkdirSync(join(fo.env['XDG_RUNTIME_DIR']!, 'codexd'), { mode: 0o700 });
    const upstreamSocket = join(fo.env['XDG_RUNTIME_DIR']!, 'codexd', 'upstream.sock');
    const up = upstreamBox({ CODEXD_SOCKET: upstreamSocket });
    up.socket = upstreamSocket;
    await daemon(up);
    return { up, fo };
  }

  it('starts a follower when upstream.sock is there and this home has no login', async () => {
    const { up, fo } = await withConventionalUpstream();
    const status = await cli(fo, ['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^  upstream: +connected since .*upstream\.sock$/m);
    await mirrored(fo, readJson(authPath(up)).tokens.access_token);
  });

  it('starts a daemon of its own when this home has a login of its own', async () => {
    const { fo } = await withConventionalUpstream();
    writeAtomically(fo.codexHome, codexAuthJson(followerIssuer.mintTokens(), followerIssuer.account.accountId, codexTimestamp(Date.now())));
    const own = readAuth(fo);
    const status = await cli(fo, ['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.doesNotMatch(status.stdout, /upstream:/);
    assert.equal(readAuth(fo), own);
  });
});
