// Interop (issue 23): the real `codex app-server`, pinned and latest, run through `codex-auth
// app-server` the way an editor runs it, with codexd's login fed in as host-managed tokens. Codex
// talks to a loopback ChatGPT backend (chatgpt_base_url in config.toml) and, were it to refresh on
// its own, to the fake issuer (CODEX_REFRESH_TOKEN_URL_OVERRIDE): every test checks that it never
// does and never writes auth.json. Both versions have the mode; each test runs with each.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { RecordedRequest } from '../../support/fake-issuer.js';
import { startHost, type Host } from '../app-server-support.js';
import { waitFor } from '../helpers.js';
import { API_KEY, deviceLogin, NAMES } from '../accounts-support.js';
import { OTHER_ACCOUNT, scene, type Scene } from '../refresh-support.js';
import { codexBinOf, codexEnv, CODEX_VERSIONS, ensureCodex, startFakeBackend, writeCodexConfig, type FakeBackend } from './codex-cli.js';

let backend: FakeBackend;

before(async () => {
  for (const version of CODEX_VERSIONS) ensureCodex(undefined, version);
  backend = await startFakeBackend();
});

after(() => backend.close());

/** The refresh requests that did not come from codexd: Codex's own (it sends its clientInfo as user-agent). */
function codexRefreshes(s: Scene): RecordedRequest[] {
  return s.issuer.requests.filter((r) => r.path === '/oauth/token' && r.body['grant_type'] === 'refresh_token' && !r.headers['user-agent']?.startsWith('codexd/'));
}

/** codexd's refreshes at the issuer. */
function codexdRefreshes(s: Scene): RecordedRequest[] {
  return s.issuer.requests.filter((r) => r.path === '/oauth/token' && r.body['grant_type'] === 'refresh_token' && r.headers['user-agent']?.startsWith('codexd/'));
}

/** The bearer tokens of Codex's /wham/accounts/check calls (one after every login it is given), in order. */
function checkedTokens(since = 0): string[] {
  return backend.accountChecks().slice(since).map((r) => r.authorization?.replace(/^Bearer /, '') ?? '');
}

/** `codex-auth app-server --codex <version's codex> ARGS` in the scene, with Codex on the loopback backend and the fake issuer. */
function bridge(s: Scene, version: string, args: string[] = []): Host {
  writeCodexConfig(s.box.codexHome, backend.url);
  const env = codexEnv(s.box, {
    CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${s.issuer.url}/oauth/token`,
    CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${s.issuer.url}/oauth/revoke`,
  });
  const host = startHost(s.box, ['--codex', codexBinOf(version), ...args], env);
  return host;
}

async function finish(t: TestContext, s: Scene, host: Host): Promise<void> {
  host.child.stdin!.end();
  const { code } = await host.exited;
  t.diagnostic(`bridge exited ${code}; stderr: ${host.stderr().split('\n').filter((l) => l.startsWith('codex-auth')).join(' | ')}`);
  assert.equal(code, 0, `the bridge exits with the app-server's status 0 after stdin closes: ${host.stderr().slice(-800)}`);
  assert.deepEqual(codexRefreshes(s), [], 'Codex sent no refresh of its own to the issuer');
  assert.equal(host.received.filter((m) => m.method === 'account/chatgptAuthTokens/refresh').length, 0, 'the host never saw a refresh request');
}

for (const version of CODEX_VERSIONS) {
  describe(`codex-auth app-server with Codex ${version}`, () => {
    test('the backend sees codexd\'s token; experimentalApi is turned on; account/read shows the account; auth.json is untouched', async (t) => {
      const s = await scene(t);
      s.writeFixture();
      await s.start();
      const c = await s.client();
      const current = await c.token();
      assert.equal(current.type, 'chatgpt');
      const authBefore = readFileSync(s.authFile);
      const checks = backend.accountChecks().length;

      const host = bridge(s, version);
      const init = await host.handshake();
      assert.ok(init.result, JSON.stringify(init));
      const read = await host.request('account/read', {});
      assert.deepEqual((read.result as { account: unknown }).account, { type: 'chatgpt', email: 'dev@example.com', planType: 'pro', workspaceName: null });
      assert.deepEqual(checkedTokens(checks), [(current as { accessToken: string }).accessToken], 'Codex used codexd\'s token, once, at once');
      assert.equal(backend.accountChecks().at(-1)!.accountId, 'acct_fake_123');
      assert.match(host.stderr(), /turned on capabilities\.experimentalApi/);
      assert.ok(!host.received.some((m) => m.method === 'account/login/completed'), 'the bridge\'s own login is not announced to the host as a sign-in');
      await finish(t, s, host);
      assert.ok(readFileSync(s.authFile).equals(authBefore), 'auth.json is byte for byte what it was');
    });

    test('a 401 for the current token: Codex asks, the bridge answers with a token codexd refreshed, Codex retries and succeeds', async (t) => {
      const s = await scene(t);
      s.writeFixture();
      await s.start();
      const c = await s.client();
      const old = await c.token();
      assert.equal(old.type, 'chatgpt');
      backend.rejected.add(old.accessToken);
      const checks = backend.accountChecks().length;

      const host = bridge(s, version);
      await host.handshake({ experimentalApi: true });
      const read = await host.request('account/read', {});
      assert.ok(read.result, `account/read succeeded after the retry: ${JSON.stringify(read)}`);
      const fresh = await c.token();
      assert.equal(fresh.type, 'chatgpt');
      assert.notEqual(fresh.accessToken, old.accessToken);
      const seen = checkedTokens(checks);
      assert.equal(seen[0], old.accessToken, 'the first check carried the old token');
      assert.ok(seen.includes(fresh.accessToken), `the retry carried codexd's new token: ${seen.length} checks`);
      assert.equal(codexdRefreshes(s).length, 1, 'codexd refreshed once, forced by the rejected token');
      assert.doesNotMatch(host.stderr(), /turned on/, 'experimentalApi was on already');
      await finish(t, s, host);
      assert.equal(JSON.parse(readFileSync(s.authFile, 'utf8')).tokens.access_token, fresh.accessToken, 'auth.json holds what codexd wrote');
    });

    test('a refresh codexd makes on its schedule reaches Codex before the old token expires, with no 401', async (t) => {
      const s = await scene(t);
      // Due 5 s after the start (exp - CODEXD_REFRESH_MARGIN_S), far from expiry.
      s.writeFixture({ accessExpiresInS: 605 });
      await s.start();
      const c = await s.client();
      const old = await c.token();
      assert.equal(old.type, 'chatgpt');
      const checks = backend.accountChecks().length;
      const first = backend.requests.length;
      const host = bridge(s, version);
      await host.handshake();
      await host.request('account/read', {});
      // Nobody asks codexd for a token meanwhile: the refresh is its own, on schedule.
      const pushed = await waitFor(() => checkedTokens(checks).find((token) => token !== old.accessToken), `Codex to use a refreshed token (stderr: ${host.stderr().slice(-500)})`, 30_000);
      assert.ok(Date.now() < Date.parse(old.expiresAt!), 'before the old token expired');
      assert.equal(codexdRefreshes(s).length, 1, 'codexd refreshed on its schedule');
      const fresh = await c.token();
      assert.equal(fresh.type === 'chatgpt' && fresh.accessToken, pushed, 'Codex uses codexd\'s new token');
      assert.ok(!backend.requests.slice(first).some((r) => r.authorization?.startsWith('Bearer ') && backend.rejected.has(r.authorization.slice(7))), 'no 401 on the way');
      await finish(t, s, host);
    });

    test('--account serves a non-active account; auth.json stays byte for byte the same', async (t) => {
      const s = await scene(t);
      s.writeFixture();
      await s.start();
      const c = await s.client();
      await deviceLogin(s, c, OTHER_ACCOUNT, NAMES.work);
      await c.switchAccount(NAMES.first);
      const work = await c.token({ account: NAMES.work });
      assert.equal(work.type, 'chatgpt');
      const authBefore = readFileSync(s.authFile);
      const checks = backend.accountChecks().length;

      const host = bridge(s, version, ['--account', NAMES.work]);
      await host.handshake();
      const read = await host.request('account/read', {});
      assert.equal((read.result as { account: { email: string } }).account.email, OTHER_ACCOUNT.email);
      assert.deepEqual(checkedTokens(checks), [work.accessToken]);
      assert.equal(backend.accountChecks().at(-1)!.accountId, OTHER_ACCOUNT.accountId);
      await finish(t, s, host);
      assert.ok(readFileSync(s.authFile).equals(authBefore), 'auth.json (the active account) is untouched');
      assert.equal((await c.accounts()).find((a) => a.active)!.name, NAMES.first, 'the active account did not change');
    });

    test('a device-code sign-in the host starts goes through codexd, and Codex gets its token', async (t) => {
      const s = await scene(t);
      await s.start();
      const c = await s.client();
      const host = bridge(s, version);
      await host.handshake();
      await waitFor(() => /codexd has no login to give Codex/.test(host.stderr()), 'the bridge to say codexd has no login');
      s.issuer.devicePendingPolls = 0;
      const checks = backend.accountChecks().length;
      const started = await host.request('account/login/start', { type: 'chatgptDeviceCode' });
      const result = started.result as { type: string; loginId: string; verificationUrl: string; userCode: string };
      assert.equal(result.type, 'chatgptDeviceCode', JSON.stringify(started));
      assert.ok(result.verificationUrl.startsWith(s.issuer.url), result.verificationUrl);
      const done = await host.next('account/login/completed', (p) => p['loginId'] === result.loginId, 30_000);
      assert.equal(done.params!['success'], true, JSON.stringify(done));
      const token = await c.token();
      assert.equal(token.type, 'chatgpt');
      await waitFor(() => checkedTokens(checks).includes(token.accessToken), 'Codex to use the new login\'s token');
      assert.deepEqual(checkedTokens(checks), [token.accessToken]);
      const read = await host.request('account/read', {});
      assert.equal((read.result as { account: { email: string } }).account.email, 'dev@example.com');
      await finish(t, s, host);
    });

    test('an API-key account (--account, not the active one) goes in as Codex\'s own API-key login, in memory only', async (t) => {
      const s = await scene(t);
      s.writeFixture();
      await s.start();
      const c = await s.client();
      await c.loginStart({ type: 'apiKey', apiKey: API_KEY });
      await c.switchAccount(NAMES.first);
      const authBefore = readFileSync(s.authFile);
      const host = bridge(s, version, ['--account', NAMES.key]);
      await host.handshake();
      const read = await host.request('account/read', {});
      assert.deepEqual((read.result as { account: unknown }).account, { type: 'apiKey' });
      await finish(t, s, host);
      assert.ok(readFileSync(s.authFile).equals(authBefore), 'auth.json (the active ChatGPT account) is untouched');
    });

    test('the host\'s logout logs the account out of codexd and out of Codex', async (t) => {
      const s = await scene(t);
      s.writeFixture();
      await s.start();
      const c = await s.client();
      const host = bridge(s, version);
      await host.handshake();
      await host.request('account/read', {});
      const reply = await host.request('account/logout');
      assert.deepEqual(reply.result, {}, JSON.stringify(reply));
      await host.next('account/updated', (p) => p['authMode'] === null);
      assert.equal((await c.read()).account, null, 'codexd is logged out');
      const read = await host.request('account/read', {});
      assert.equal((read.result as { account: unknown }).account, null);
      await finish(t, s, host);
    });
  });
}
