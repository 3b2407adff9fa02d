// Device-code login for SSH and headless machines, against the fake issuer.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CodexdError, ErrorCodes, type LoginStartResult } from '../client/index.js';
import { cli, hasAuth, readAuth, sleep, waitFor } from './helpers.js';
import { finishWorlds, world, type World } from './login-support.js';

after(finishWorlds);

type DeviceStart = Extract<LoginStartResult, { type: 'chatgptDeviceCode' }>;

async function startDevice(w: World): Promise<DeviceStart> {
  const started = await w.watcher.loginStart({ type: 'chatgptDeviceCode' });
  assert.equal(started.type, 'chatgptDeviceCode');
  w.shown.push(started.userCode);
  return started;
}

function assertNoAuthJson(w: World): void {
  assert.equal(hasAuth(w.box), false, 'no auth.json may be written when a login fails');
}

describe('device-code login', () => {
  it('shows the verification URL and a one-time code, keeps polling while the user has not approved, then signs in with no API key', async () => {
    const w = await world('device success');
    w.issuer.devicePendingPolls = 2;
    const before = Date.now();
    const started = await startDevice(w);
    assert.equal(started.verificationUrl, `${w.issuer.url}/codex/device`);
    assert.match(started.userCode, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    const usercode = w.issuer.requests.find((r) => r.path === '/api/accounts/deviceauth/usercode')!;
    assert.deepEqual(JSON.parse(usercode.rawBody), { client_id: 'app_EMoamEEZ73f0CkXaXp7hrann' });
    const expiresAt = Date.parse(started.expiresAt);
    assert.ok(expiresAt >= before + 15 * 60_000 - 5_000 && expiresAt <= Date.now() + 15 * 60_000 + 5_000, `expires in 15 minutes: ${started.expiresAt}`);
    assert.deepEqual((await w.watcher.read()).login, { loginId: started.loginId, type: 'chatgptDeviceCode' });

    const done = await w.completed.next((e) => e.loginId === started.loginId, 30_000);
    assert.deepEqual(done, { loginId: started.loginId, success: true, error: null });

    const polls = w.issuer.requests.filter((r) => r.path === '/api/accounts/deviceauth/token');
    assert.equal(polls.length, 3, 'two pending answers, then the grant');
    for (const poll of polls) assert.deepEqual(Object.keys(JSON.parse(poll.rawBody)), ['device_auth_id', 'user_code']);
    assert.equal(polls[0]!.body['user_code'], started.userCode);
    // The server's interval is "1" (a string): polls are about a second apart, not a busy loop.
    assert.ok(polls[2]!.at - polls[1]!.at >= 900, `polled at the server's interval (${polls[2]!.at - polls[1]!.at} ms)`);

    assert.equal(w.issuer.codeExchanges.length, 1);
    assert.deepEqual(w.issuer.codeExchanges[0], { code: w.issuer.codeExchanges[0]!.code, pkceVerified: true, redirectUri: `${w.issuer.url}/deviceauth/callback` });
    assert.equal(w.issuer.count('/oauth/token', 'urn:ietf:params:oauth:grant-type:token-exchange'), 0, 'device logins do not exchange for an API key');

    const auth = JSON.parse(readAuth(w.box));
    assert.deepEqual(Object.keys(auth), ['auth_mode', 'OPENAI_API_KEY', 'tokens', 'last_refresh']);
    assert.equal(auth.auth_mode, 'chatgpt');
    assert.equal(auth.OPENAI_API_KEY, null);
    assert.equal(auth.tokens.account_id, 'acct_fake_123');
    const status = await w.updates.next((s) => s.account?.type === 'chatgpt' && s.login === null, 10_000);
    assert.deepEqual(status.account, { type: 'chatgpt', email: 'dev@example.com', planType: 'pro', accountId: 'acct_fake_123' });
  });

  it('a server without device-code login says so: "device code login is not enabled for this Codex server…"', async () => {
    const w = await world('device not enabled');
    w.issuer.deviceCodeEnabled = false;
    await assert.rejects(w.watcher.loginStart({ type: 'chatgptDeviceCode' }), (error: unknown) => {
      assert.ok(error instanceof CodexdError, String(error));
      assert.equal(error.code, ErrorCodes.loginFailed);
      assert.equal(error.message, 'device code login is not enabled for this Codex server. Use the browser login or verify the server URL.');
      return true;
    });
    assert.equal((await w.watcher.read()).login, null);
    assertNoAuthJson(w);

    const run = await cli(w.box, ['login', '--device-auth'], { timeoutMs: 30_000 });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /device code login is not enabled for this Codex server\. Use the browser login or verify the server URL\./);
    assertNoAuthJson(w);
  });

  it('a usercode request that fails says "device code request failed with status …"', async () => {
    const w = await world('usercode 503');
    w.issuer.script('/api/accounts/deviceauth/usercode', { status: 503, body: 'upstream unavailable' });
    await assert.rejects(w.watcher.loginStart({ type: 'chatgptDeviceCode' }), (error: unknown) => {
      assert.ok(error instanceof CodexdError);
      assert.equal(error.code, ErrorCodes.loginFailed);
      assert.equal(error.message, 'device code request failed with status 503');
      return true;
    });
    assertNoAuthJson(w);
  });

  it('a poll that fails ends the login with "device auth failed with status 500" and writes nothing', async () => {
    const w = await world('device poll 500');
    w.issuer.script('/api/accounts/deviceauth/token', { status: 500, body: { error: 'server_error' } });
    const started = await startDevice(w);
    const done = await w.completed.next((e) => e.loginId === started.loginId, 30_000);
    assert.deepEqual(done, { loginId: started.loginId, success: false, error: 'device auth failed with status 500' });
    assert.equal((await w.watcher.read()).login, null);
    assert.equal(w.issuer.count('/api/accounts/deviceauth/token'), 1, 'no more polling after the failure');
    assert.equal(w.issuer.count('/oauth/token'), 0);
    assertNoAuthJson(w);
  });

  it('a code exchange the issuer refuses ends with "device code exchange failed: token endpoint returned status …" and writes nothing', async () => {
    const w = await world('device exchange 400');
    w.issuer.devicePendingPolls = 0;
    w.issuer.script('/oauth/token', { status: 400, body: { error: 'invalid_grant', error_description: 'Authorization code expired' } });
    const started = await startDevice(w);
    const done = await w.completed.next((e) => e.loginId === started.loginId, 30_000);
    assert.deepEqual(done, {
      loginId: started.loginId,
      success: false,
      error: 'device code exchange failed: token endpoint returned status 400: Authorization code expired',
    });
    assertNoAuthJson(w);
  });

  it('a code exchange cut off by the network names the step once: "device code exchange failed: …"', async () => {
    const w = await world('device exchange reset');
    w.issuer.devicePendingPolls = 0;
    w.issuer.script('/oauth/token', { destroy: true });
    const started = await startDevice(w);
    const done = await w.completed.next((e) => e.loginId === started.loginId, 30_000);
    assert.equal(done.success, false);
    assert.match(done.error ?? '', /^device code exchange failed: (?!device code exchange failed)/);
    assertNoAuthJson(w);
  });

  it('a code nobody enters expires with "device auth timed out after …" and writes nothing', async () => {
    const w = await world('device expiry', { env: { CODEXD_DEVICE_CODE_TIMEOUT_S: '1' } });
    w.issuer.devicePendingPolls = 1_000;
    const before = Date.now();
    const started = await startDevice(w);
    assert.ok(Date.parse(started.expiresAt) <= Date.now() + 1_500, `expiresAt follows the setting: ${started.expiresAt}`);
    const done = await w.completed.next((e) => e.loginId === started.loginId, 30_000);
    assert.equal(done.success, false);
    assert.match(done.error ?? '', /^device auth timed out after 1 second$/);
    assert.ok(Date.now() - before >= 900);
    assert.equal((await w.watcher.read()).login, null);
    assertNoAuthJson(w);
  });

  it('account/login/cancel from another client stops the polling', async () => {
    const w = await world('device cancel');
    w.issuer.devicePendingPolls = 1_000;
    const started = await startDevice(w);
    await waitFor(() => w.issuer.count('/api/accounts/deviceauth/token') >= 1, 'the first poll', 20_000);
    const other = await w.client();
    assert.deepEqual(await other.loginCancel(started.loginId), { status: 'canceled' });
    const done = await w.completed.next((e) => e.loginId === started.loginId, 20_000);
    assert.equal(done.success, false);
    assert.match(done.error ?? '', /cancel/i);
    const polls = w.issuer.count('/api/accounts/deviceauth/token');
    // One poll may already have been on its way; after the interval (1 s) and more, nothing new.
    await sleep(2_500);
    assert.ok(w.issuer.count('/api/accounts/deviceauth/token') <= polls + 1, 'polling stopped');
    assertNoAuthJson(w);
  });

  it('a login still starting when a newer one starts is cancelled: only the newer one stays pending and finishes', async () => {
    const w = await world('overlapping starts');
    const a = await w.client();
    const b = await w.client();
    // The first usercode request is slow, so the second login starts while the first is still starting.
    w.issuer.script('/api/accounts/deviceauth/usercode', { delayMs: 1500, body: { device_auth_id: 'dev_slow_first_login', user_code: 'SLOW-CODE', interval: '1' } });
    const first = a.loginStart({ type: 'chatgptDeviceCode' });
    first.catch(() => undefined);
    await waitFor(() => w.issuer.count('/api/accounts/deviceauth/usercode') === 1, 'the first usercode request', 20_000);
    const second = (await b.loginStart({ type: 'chatgptDeviceCode' })) as DeviceStart;
    w.shown.push(second.userCode);
    await assert.rejects(first, (error: unknown) => {
      assert.ok(error instanceof CodexdError, String(error));
      assert.equal(error.code, ErrorCodes.loginFailed);
      assert.match(error.message, /new login was started/);
      return true;
    });
    assert.deepEqual((await w.watcher.read()).login, { loginId: second.loginId, type: 'chatgptDeviceCode' });
    const done = await w.completed.next((e) => e.loginId === second.loginId, 30_000);
    assert.equal(done.success, true);
    assert.equal(w.completed.values.filter((e) => e.success).length, 1, 'exactly one login succeeded');
    assert.ok(!w.issuer.requests.some((r) => r.body['device_auth_id'] === 'dev_slow_first_login'), 'the cancelled login never polled');
  });
});

describe('codex-auth login --device-auth', () => {
  it('prints the URL and the code prominently, with the phishing warning, and ends "Logged in as dev@example.com (pro)"', async () => {
    const w = await world('device CLI');
    const run = await cli(w.box, ['login', '--device-auth'], { timeoutMs: 60_000 });
    const poll = w.issuer.requests.find((r) => r.path === '/api/accounts/deviceauth/token');
    const userCode = String(poll?.body['user_code']);
    w.shown.push(userCode);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.includes(`${w.issuer.url}/codex/device`), run.stdout);
    assert.ok(run.stdout.includes(userCode), 'the code is printed');
    assert.match(run.stdout, /expires in 15 minutes/);
    assert.match(run.stdout, /Device codes are a common phishing target\. Never share this code\./);
    assert.match(run.stdout, /^Logged in as dev@example\.com \(pro\)$/m);
    assert.equal(JSON.parse(readAuth(w.box)).OPENAI_API_KEY, null);
  });
});
