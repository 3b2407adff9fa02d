// The browser login's callback server, driven over HTTP without a browser: the authorize URL,
// every way a callback can go wrong, and every way a pending login ends early.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it, type TestContext } from 'node:test';
import { CodexdError, ErrorCodes } from '../client/index.js';
import { cli, hasAuth, readAuth, readLog, sleep, startCli, waitFor } from './helpers.js';
import { browserStart, consent, finishWorlds, httpGet, pendingLoginId, portClosed, world, type World } from './login-support.js';

after(finishWorlds);

const SCOPE = 'openid profile email offline_access api.connectors.read api.connectors.invoke';
const CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann';

async function startBrowserLogin(w: World) {
  const started = browserStart(await w.watcher.loginStart({ type: 'chatgpt' }));
  w.shown.push(started.authUrl);
  return started;
}

/** The login ended without writing anything. */
function assertNoAuthJson(w: World): void {
  assert.equal(hasAuth(w.box), false, 'no auth.json may be written when a login fails');
}

async function assertStillWaiting(w: World, loginId: string): Promise<void> {
  const status = await w.watcher.read();
  assert.deepEqual(status.login, { loginId, type: 'chatgpt' }, 'the login is still pending');
  assert.equal(w.completed.values.length, 0, 'the login has not ended');
}

/** Approves at the issuer, follows the callback, and checks the user lands on /success. */
async function completeLogin(w: World, login: { loginId: string; authUrl: string; port: number }): Promise<void> {
  const callback = await consent(w.issuer, login.authUrl);
  const reply = await httpGet(callback);
  assert.equal(reply.status, 302, `the callback redirects to the success page: ${reply.status} ${reply.body}`);
  const location = String(reply.headers['location']);
  assert.equal(location, `http://localhost:${login.port}/success`, 'the success URL carries no id_token (or anything else)');
  const page = await httpGet(location);
  assert.equal(page.status, 200);
  assert.match(page.body, /You can close this tab/);
  const done = await w.completed.next((e) => e.loginId === login.loginId, 20_000);
  assert.deepEqual(done, { loginId: login.loginId, success: true, error: null });
  assert.equal(JSON.parse(readAuth(w.box)).auth_mode, 'chatgpt');
}

describe('the authorize URL', () => {
  it("has exactly Codex's parameters in Codex's order, with a PKCE S256 challenge and %20 for spaces", async () => {
    const w = await world('authorize URL');
    const login = await startBrowserLogin(w);
    const [base, query] = login.authUrl.split('?') as [string, string];
    assert.equal(base, `${w.issuer.url}/oauth/authorize`);
    const pairs = query.split('&').map((pair) => pair.split('=') as [string, string]);
    assert.deepEqual(
      pairs.map(([key]) => key),
      ['response_type', 'client_id', 'redirect_uri', 'scope', 'code_challenge', 'code_challenge_method', 'id_token_add_organizations', 'codex_cli_simplified_flow', 'state', 'originator'],
    );
    const raw = Object.fromEntries(pairs);
    assert.equal(raw['response_type'], 'code');
    assert.equal(raw['client_id'], CLIENT_ID);
    assert.equal(raw['redirect_uri'], encodeURIComponent(`http://localhost:${login.port}/auth/callback`));
    assert.ok(login.port > 0);
    assert.equal(raw['scope'], SCOPE.split(' ').join('%20'), 'spaces are %20, never +');
    assert.match(raw['code_challenge']!, /^[A-Za-z0-9_-]{43}$/, 'a base64url SHA-256 digest, no padding');
    assert.equal(raw['code_challenge_method'], 'S256');
    assert.equal(raw['id_token_add_organizations'], 'true');
    assert.equal(raw['codex_cli_simplified_flow'], 'true');
    assert.match(raw['state']!, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
    assert.equal(raw['originator'], 'codex_cli_rs');

    // The verifier behind the challenge: 64 random bytes (86 base64url characters), S256.
    await completeLogin(w, login);
    const exchange = w.issuer.requests.find((r) => r.path === '/oauth/token' && r.body['grant_type'] === 'authorization_code')!;
    const verifier = String(exchange.body['code_verifier']);
    assert.match(verifier, /^[A-Za-z0-9_-]{86}$/);
    assert.equal(createHash('sha256').update(verifier).digest('base64url'), raw['code_challenge']);
    assert.equal(exchange.body['redirect_uri'], `http://localhost:${login.port}/auth/callback`);
    assert.equal(w.issuer.codeExchanges[0]!.pkceVerified, true);

    // A second login gets fresh values.
    const again = await startBrowserLogin(w);
    assert.notEqual(again.state, login.state);
    assert.notEqual(new URL(again.authUrl).searchParams.get('code_challenge'), raw['code_challenge']);
  });
});

describe('the callback', () => {
  it('a callback with the wrong state gets 400 "State mismatch", and the real callback afterwards still signs the user in', async () => {
    const w = await world('wrong state');
    const login = await startBrowserLogin(w);
    const callback = await consent(w.issuer, login.authUrl);
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged-state-from-another-page');
    const reply = await httpGet(forged.toString());
    assert.equal(reply.status, 400);
    assert.equal(reply.body, 'State mismatch');
    const missing = new URL(callback);
    missing.searchParams.delete('state');
    assert.equal((await httpGet(missing.toString())).status, 400, 'a callback without state is refused too');
    assert.equal(w.issuer.codeExchanges.length, 0, 'a forged callback never reaches the token endpoint');
    assertNoAuthJson(w);
    await assertStillWaiting(w, login.loginId);

    await completeLogin(w, login);
    assert.equal(w.issuer.codeExchanges.length, 1);
  });

  it('an error from the issuer ends the login with "Sign-in failed: …" on an escaped 200 error page, and writes nothing', async () => {
    const w = await world('error parameter');
    const login = await startBrowserLogin(w);
    w.issuer.consent = { error: 'server_error', error_description: 'The <b>sign-in</b> service is unavailable' };
    const callback = await consent(w.issuer, login.authUrl);
    const page = await httpGet(callback);
    assert.equal(page.status, 200, 'error pages are sent as 200, as Codex does');
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /Sign-in failed: The &lt;b&gt;sign-in&lt;\/b&gt; service is unavailable/);
    assert.ok(!page.body.includes('<b>sign-in</b>'), 'values from the query are HTML-escaped');
    assert.match(page.body, /codex-auth login/, 'the page says what to do next');
    const done = await w.completed.next((e) => e.loginId === login.loginId, 20_000);
    assert.deepEqual(done, { loginId: login.loginId, success: false, error: 'Sign-in failed: The <b>sign-in</b> service is unavailable' });
    assert.equal((await w.watcher.read()).login, null);
    assert.equal(w.issuer.codeExchanges.length, 0);
    assertNoAuthJson(w);

    // Without a description, the error code itself is shown.
    const second = await startBrowserLogin(w);
    w.issuer.consent = { error: 'temporarily_unavailable' };
    const page2 = await httpGet(await consent(w.issuer, second.authUrl));
    assert.match(page2.body, /Sign-in failed: temporarily_unavailable/);
    const done2 = await w.completed.next((e) => e.loginId === second.loginId, 20_000);
    assert.equal(done2.error, 'Sign-in failed: temporarily_unavailable');
    assertNoAuthJson(w);
  });

  it('a workspace without Codex gets "You do not have access to Codex" and the administrator copy, never the raw error code', async () => {
    const w = await world('entitlement denial');
    const login = await startBrowserLogin(w);
    w.issuer.consent = { error: 'access_denied', error_description: 'missing_codex_entitlement' };
    const page = await httpGet(await consent(w.issuer, login.authUrl));
    assert.equal(page.status, 200);
    assert.match(page.body, /You do not have access to Codex/);
    assert.match(page.body, /Codex is not enabled for your workspace\. Contact your workspace administrator/);
    assert.ok(!page.body.includes('missing_codex_entitlement'), 'the raw code is hidden');
    assert.ok(!page.body.includes('Sign-in failed'), 'not the generic copy');
    const done = await w.completed.next((e) => e.loginId === login.loginId, 20_000);
    assert.equal(done.success, false);
    assert.match(done.error ?? '', /^Codex is not enabled for your workspace\. Contact your workspace administrator/);
    assert.ok(!(done.error ?? '').includes('missing_codex_entitlement'));
    assertNoAuthJson(w);

    // Any other access_denied is the generic "Sign-in failed".
    const second = await startBrowserLogin(w);
    const page2 = await httpGet(await consent(w.issuer, second.authUrl, 'deny'));
    assert.match(page2.body, /Sign-in failed: User cancelled/);
    assert.ok(!page2.body.includes('You do not have access to Codex'));
    assertNoAuthJson(w);
  });

  it('a callback without a code ends the login with "Missing authorization code. Sign-in could not be completed."', async () => {
    const w = await world('missing code');
    const login = await startBrowserLogin(w);
    const page = await httpGet(`http://localhost:${login.port}/auth/callback?code=&state=${encodeURIComponent(login.state)}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /Missing authorization code\. Sign-in could not be completed\./);
    const done = await w.completed.next((e) => e.loginId === login.loginId, 20_000);
    assert.deepEqual(done, { loginId: login.loginId, success: false, error: 'Missing authorization code. Sign-in could not be completed.' });
    assert.equal(w.issuer.count('/oauth/token'), 0);
    assertNoAuthJson(w);
    assert.ok(await waitFor(() => portClosed(login.port), 'the callback server to close', 10_000));
  });

  it('a request with a foreign Host header (DNS rebinding) gets 403, and the login keeps waiting', async () => {
    const w = await world('bad Host header');
    const login = await startBrowserLogin(w);
    const callback = await consent(w.issuer, login.authUrl);
    for (const host of [`attacker.example:${login.port}`, `localhost.attacker.example:${login.port}`, 'localhost', `localhost:${login.port + 1}`]) {
      const reply = await httpGet(callback, { host });
      assert.equal(reply.status, 403, `Host: ${host}`);
      assert.ok(!reply.body.includes(login.state));
    }
    assert.equal((await httpGet(`http://localhost:${login.port}/cancel`, { host: `evil.example:${login.port}` })).status, 403, '/cancel is guarded too');
    assert.equal(w.issuer.count('/oauth/token'), 0, 'the code was not exchanged');
    assertNoAuthJson(w);
    await assertStillWaiting(w, login.loginId);

    // 127.0.0.1 is as good as localhost.
    const reply = await httpGet(callback, { host: `127.0.0.1:${login.port}` });
    assert.equal(reply.status, 302);
    await w.completed.next((e) => e.loginId === login.loginId && e.success, 20_000);
    assert.ok(hasAuth(w.box));
  });

  it('GET /cancel on the callback server cancels the login', async () => {
    const w = await world('/cancel');
    const login = await startBrowserLogin(w);
    const reply = await httpGet(`http://localhost:${login.port}/cancel`);
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'Login cancelled');
    const done = await w.completed.next((e) => e.loginId === login.loginId, 20_000);
    assert.equal(done.success, false);
    assert.match(done.error ?? '', /cancel/i);
    assert.equal((await w.watcher.read()).login, null);
    assert.ok(await waitFor(() => portClosed(login.port), 'the callback server to close', 10_000));
    assertNoAuthJson(w);
  });

  it('the same callback arriving twice at once (a double click) exchanges the code once and signs in once', async () => {
    const w = await world('double callback');
    const login = await startBrowserLogin(w);
    const callback = await consent(w.issuer, login.authUrl);
    // A slow token endpoint keeps the first callback busy while the second one arrives.
    w.issuer.script('/oauth/token', { delayMs: 2000, body: { ...w.issuer.mintTokens(), token_type: 'Bearer', expires_in: 3600 } });
    const replies = await Promise.all([httpGet(callback), httpGet(callback)]);
    const statuses = replies.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 302]);
    assert.match(replies.find((r) => r.status === 200)!.body, /already being completed/);
    assert.equal(w.issuer.count('/oauth/token', 'authorization_code'), 1);
    await w.completed.next((e) => e.loginId === login.loginId, 20_000);
    assert.deepEqual(w.completed.values, [{ loginId: login.loginId, success: true, error: null }]);
    assert.ok(hasAuth(w.box));
  });

  it('a login cancelled while its code is being exchanged saves nothing', async () => {
    const w = await world('cancel during exchange');
    const login = await startBrowserLogin(w);
    const callback = await consent(w.issuer, login.authUrl);
    const exchangeMs = 1500;
    w.issuer.script('/oauth/token', { delayMs: exchangeMs, body: { ...w.issuer.mintTokens(), token_type: 'Bearer', expires_in: 3600 } });
    const inFlight = httpGet(callback).catch((error: Error) => error);
    await waitFor(() => w.issuer.count('/oauth/token', 'authorization_code') === 1, 'the code exchange to start', 20_000);
    const askedAt = Date.now();
    assert.deepEqual(await w.watcher.loginCancel(login.loginId), { status: 'canceled' });
    const done = await w.completed.next((e) => e.loginId === login.loginId, 20_000);
    assert.equal(done.success, false);
    const reply = await inFlight;
    if (!(reply instanceof Error)) assert.match(reply.body, /This login has ended/);
    // Absence can only be shown by waiting: until well after the slow exchange has answered.
    await sleep(Math.max(0, askedAt + exchangeMs + 2000 - Date.now()));
    assertNoAuthJson(w);
    assert.equal(w.issuer.count('/oauth/token', 'urn:ietf:params:oauth:grant-type:token-exchange'), 0, 'no API key was asked for either');
    assert.deepEqual(w.completed.values.map((e) => e.success), [false], 'no success reported after the cancel');
    assert.equal((await w.watcher.read()).account, null);
  });

  it('unknown paths on the callback server get 404', async () => {
    const w = await world('404');
    const login = await startBrowserLogin(w);
    assert.equal((await httpGet(`http://localhost:${login.port}/`)).status, 404);
    assert.equal((await httpGet(`http://localhost:${login.port}/auth/callbackx`)).status, 404);
    await assertStillWaiting(w, login.loginId);
  });
});

/** Binds 127.0.0.1:port, or null when something else holds it. */
function hold(port: number, onRequest: (url: string) => void): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      onRequest(req.url ?? '');
      // Like an old login server that answers /cancel but never lets go of the port.
      res.writeHead(req.url === '/cancel' ? 200 : 404, { 'content-type': 'text/plain' }).end(req.url === '/cancel' ? 'Login cancelled' : 'Not found');
    });
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' || error.code === 'EACCES' ? resolve(null) : reject(error)));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function release(server: Server | null): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Holds 1455 and checks that 1457 is free; skips the test (null) when either is in use already. */
async function hold1455(t: TestContext, onRequest: (url: string) => void): Promise<Server | null> {
  const holder = await hold(1455, onRequest);
  const probe = holder ? await hold(1457, () => undefined) : null;
  await release(probe);
  if (holder && probe) return holder;
  await release(holder);
  t.skip(`port ${holder ? 1457 : 1455} is already in use by something else on this machine`);
  return null;
}

describe('the callback port', () => {
  it('when 1455 is busy, the login asks it to /cancel once, then falls back to 1457, and the redirect_uri follows', async (t: TestContext) => {
    const seen: string[] = [];
    const holder = await hold1455(t, (url) => seen.push(url));
    if (!holder) return;
    try {
      const w = await world('1455 busy', { env: { CODEXD_LOGIN_PORT: null } });
      const login = await startBrowserLogin(w);
      assert.equal(login.port, 1457);
      assert.equal(login.redirectUri, 'http://localhost:1457/auth/callback');
      assert.deepEqual(seen, ['/cancel'], 'the old server on 1455 was asked to cancel, once');
      await completeLogin(w, login);
      assert.equal(w.issuer.codeExchanges[0]!.redirectUri, 'http://localhost:1457/auth/callback');
      // The server lingers for the success page; free 1457 for the next tests.
      await httpGet('http://localhost:1457/cancel');
      assert.ok(await waitFor(() => portClosed(1457), 'the callback server on 1457 to close', 10_000));
    } finally {
      await release(holder);
    }
  });

  it('codex-auth login says that 1455 is busy before it falls back to 1457, and the log says so too', async (t: TestContext) => {
    const holder = await hold1455(t, () => undefined);
    if (!holder) return;
    try {
      const w = await world('1455 busy, CLI', { env: { CODEXD_LOGIN_PORT: null } });
      const run = startCli(w.box, ['login', '--no-browser'], { env: { CODEXD_NO_AUTOSTART: '1' } });
      const printed = await waitFor(() => /^(https?:\/\/\S+\/oauth\/authorize\?\S+)$/m.exec(run.stdout()), 'codex-auth to print the authorize URL', 20_000);
      w.shown.push(printed[1]!);
      assert.ok(
        run.stdout().startsWith('Port 1455 is in use (another `codex login` may be running); using port 1457 instead.\nStarting local login server on http://localhost:1457.\n'),
        run.stdout(),
      );
      assert.match(readLog(w.box), /port 1455 is in use \(another `codex login` may be running\); falling back to port 1457/);
      run.child.kill('SIGKILL'); // its login ends with it
      assert.ok(await waitFor(() => portClosed(1457), 'the callback server on 1457 to close', 10_000));
    } finally {
      await release(holder);
    }
  });

  it('when 1455 and 1457 are both busy, codex-auth login names both and says what to do instead (exit 1, logged)', async (t: TestContext) => {
    const holders = [await hold(1455, () => undefined), await hold(1457, () => undefined)];
    try {
      if (holders.includes(null)) {
        t.skip('port 1455 or 1457 is already in use by something else on this machine');
        return;
      }
      const w = await world('1455 and 1457 busy', { env: { CODEXD_LOGIN_PORT: null } });
      const run = await cli(w.box, ['login', '--no-browser'], { env: { CODEXD_NO_AUTOSTART: '1' } });
      const reason = 'Ports 1455 and 1457 are both in use; another `codex login` may be running. Use `codex-auth login --device-auth`, or set CODEXD_LOGIN_PORT=0 to use any free port.';
      assert.equal(run.code, 1);
      assert.equal(run.stderr, `codex-auth: Login failed: ${reason}\n`);
      assert.equal(run.stdout, '');
      assert.ok(readLog(w.box).includes(`the login could not start: ${reason}`), 'logged');
    } finally {
      for (const holder of holders) await release(holder);
    }
  });
});

describe('one login at a time', () => {
  it("a second login cancels the first, whose loginCompleted says it was replaced, and the second one completes", async () => {
    const w = await world('second login');
    const first = await startBrowserLogin(w);
    const starter = await w.client();
    const second = browserStart(await starter.loginStart({ type: 'chatgpt' }));
    w.shown.push(second.authUrl);
    const done = await w.completed.next((e) => e.loginId === first.loginId, 20_000);
    assert.equal(done.success, false);
    assert.match(done.error ?? '', /new login/i);
    assert.deepEqual((await w.watcher.read()).login, { loginId: second.loginId, type: 'chatgpt' });
    assert.ok(await waitFor(() => portClosed(first.port), "the first login's callback server to close", 10_000));
    assertNoAuthJson(w);

    await completeLogin(w, second);
    assert.equal(w.completed.values.filter((e) => e.success).length, 1);
  });

  it('account/login/cancel from another client cancels the pending login, and a second cancel finds nothing', async () => {
    const w = await world('cancel from another client');
    const starter = await w.client();
    const starterCompleted: string[] = [];
    starter.onLoginCompleted((e) => starterCompleted.push(e.loginId));
    const login = browserStart(await starter.loginStart({ type: 'chatgpt' }));
    w.shown.push(login.authUrl);
    assert.deepEqual(await w.watcher.loginCancel('login-that-does-not-exist'), { status: 'notFound' });
    assert.deepEqual(await w.watcher.loginCancel(login.loginId), { status: 'canceled' });
    const done = await w.completed.next((e) => e.loginId === login.loginId, 20_000);
    assert.equal(done.success, false);
    assert.match(done.error ?? '', /cancel/i);
    await waitFor(() => starterCompleted.includes(login.loginId), 'the starting client to hear it too', 20_000);
    assert.deepEqual(await w.watcher.loginCancel(login.loginId), { status: 'notFound' });
    assert.equal((await w.watcher.read()).login, null);
    assert.ok(await waitFor(() => portClosed(login.port), 'the callback server to close', 10_000));
    assertNoAuthJson(w);
  });

  it('Ctrl-C in codex-auth login cancels the login in the daemon', async () => {
    const w = await world('Ctrl-C');
    const run = startCli(w.box, ['login', '--no-browser'], { env: { CODEXD_NO_AUTOSTART: '1' } });
    const printed = await waitFor(() => /^(https?:\/\/\S+\/oauth\/authorize\?\S+)$/m.exec(run.stdout()), 'codex-auth to print the authorize URL', 20_000);
    w.shown.push(printed[1]!);
    const loginId = await pendingLoginId(w);
    const port = Number(new URL(new URL(printed[1]!).searchParams.get('redirect_uri')!).port);
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 130, '130, as shells expect after Ctrl-C');
    assert.match(run.stderr(), /Login cancelled/);
    const done = await w.completed.next((e) => e.loginId === loginId, 20_000);
    assert.equal(done.success, false);
    assert.equal((await w.watcher.read()).login, null);
    assert.ok(await waitFor(() => portClosed(port), 'the callback server to close', 10_000));
    assertNoAuthJson(w);
  });

  it('an API-key login cancels a pending browser login', async () => {
    const w = await world('API key cancels');
    const apiKey = 'sk-proj-test-0123456789abcdefghijklmnop';
    w.extraSecrets.push({ label: 'API key', value: apiKey });
    const login = await startBrowserLogin(w);
    assert.deepEqual(await w.watcher.loginStart({ type: 'apiKey', apiKey }), { type: 'apiKey' });
    const done = await w.completed.next((e) => e.loginId === login.loginId, 20_000);
    assert.equal(done.success, false);
    assert.match(done.error ?? '', /new login/i);
    assert.ok(await waitFor(() => portClosed(login.port), 'the callback server to close', 10_000));
    // The browser login wrote nothing: what is on disk is the API key alone.
    assert.deepEqual(JSON.parse(readAuth(w.box)), { auth_mode: 'apikey', OPENAI_API_KEY: apiKey });
    assert.equal(w.issuer.count('/oauth/token'), 0);
  });

  it('a logout cancels a pending browser login', async () => {
    const w = await world('logout cancels');
    const login = await startBrowserLogin(w);
    assert.deepEqual(await w.watcher.logout(), {});
    const done = await w.completed.next((e) => e.loginId === login.loginId, 20_000);
    assert.equal(done.success, false);
    assert.match(done.error ?? '', /log(ged)? ?out/i);
    assert.equal((await w.watcher.read()).login, null);
    assert.ok(await waitFor(() => portClosed(login.port), 'the callback server to close', 10_000));
    assertNoAuthJson(w);
  });

  it('a login nobody finishes times out ("Login timed out") after CODEXD_LOGIN_TIMEOUT_S', async () => {
    const w = await world('timeout', { env: { CODEXD_LOGIN_TIMEOUT_S: '1' } });
    const started = Date.now();
    const login = await startBrowserLogin(w);
    const done = await w.completed.next((e) => e.loginId === login.loginId, 20_000);
    assert.deepEqual(done, { loginId: login.loginId, success: false, error: 'Login timed out' });
    assert.ok(Date.now() - started >= 900, 'not before the timeout');
    assert.equal((await w.watcher.read()).login, null);
    assert.ok(await waitFor(() => portClosed(login.port), 'the callback server to close', 10_000));
    assertNoAuthJson(w);
  });
});

describe('a login that cannot start', () => {
  it('a callback port held by something that ignores /cancel fails the start with loginFailed', async () => {
    const holder = await hold(0, () => undefined);
    const port = (holder!.address() as AddressInfo).port;
    try {
      const w = await world('port held', { env: { CODEXD_LOGIN_PORT: String(port) } });
      await assert.rejects(w.watcher.loginStart({ type: 'chatgpt' }), (error: unknown) => {
        assert.ok(error instanceof CodexdError);
        assert.equal(error.code, ErrorCodes.loginFailed);
        assert.equal(error.message, `Port ${port} is in use; another \`codex login\` may be running. Use \`codex-auth login --device-auth\`, or set CODEXD_LOGIN_PORT=0 to use any free port.`);
        return true;
      });
      assert.equal((await w.watcher.read()).login, null);
      assertNoAuthJson(w);
    } finally {
      await release(holder);
    }
  });
});
