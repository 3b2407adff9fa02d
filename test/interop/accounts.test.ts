// Interop (issue 14): several accounts with the real Codex CLI 0.169.0. After every switch Codex
// finds the new active account in auth.json; a `codex exec` started before a switch goes on with
// the account it started with and, however the tokens rotate, never refreshes and never spends a
// token codexd holds (no refresh_token_reused).
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import type { RecordedRequest } from '../../support/fake-issuer.js';
import { cli, sleep, waitFor } from '../helpers.js';
import { API_KEY, NAMES, threeAccounts, WHO_BY_NAME } from '../accounts-support.js';
import type { Scene } from '../refresh-support.js';
import { readJson } from '../refresh-support.js';
import { codexEnv, ensureCodex, runCodex, startCodex, startFakeBackend, withoutTmpWarning, writeCodexConfig, type FakeBackend } from './codex-cli.js';

let backend: FakeBackend;

before(async () => {
  ensureCodex();
  backend = await startFakeBackend();
});

after(() => backend.close());

function codexEnvFor(s: Scene): NodeJS.ProcessEnv {
  return codexEnv(s.box, {
    CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${s.issuer.url}/oauth/token`,
    CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${s.issuer.url}/oauth/revoke`,
  });
}

function refreshes(s: Scene): RecordedRequest[] {
  return s.issuer.requests.filter((r) => r.path === '/oauth/token' && r.body['grant_type'] === 'refresh_token');
}

/** Runs `codex exec` until the loopback backend has a request from it; returns that request's bearer token and account id header. */
async function codexCalls(s: Scene): Promise<{ bearer: string | undefined; accountId: string | undefined }> {
  const seen = backend.requests.length;
  const codex = startCodex(['exec', '--skip-git-repo-check', 'hi'], codexEnvFor(s));
  try {
    const request = await waitFor(() => backend.requests.slice(seen).find((r) => r.authorization), 'codex exec to call the backend', 30_000);
    return { bearer: request.authorization?.replace(/^Bearer /, ''), accountId: request.accountId };
  } finally {
    await codex.stop();
  }
}

async function setUp(t: TestContext): Promise<Scene> {
  const { s } = await threeAccounts(t);
  writeCodexConfig(s.box.codexHome, backend.url);
  return s;
}

test('after every switch, codex login status and codex exec use the active account', async (t) => {
  const s = await setUp(t);
  for (const name of [NAMES.work, NAMES.key, NAMES.first, NAMES.work, NAMES.first, NAMES.key]) {
    const switched = await cli(s.box, ['switch', name]);
    assert.equal(switched.code, 0, switched.stderr);
    const status = await runCodex(['login', 'status'], codexEnvFor(s));
    const text = withoutTmpWarning(status.stdout + status.stderr).trim();
    t.diagnostic(`after switch ${name}: codex login status (exit ${status.code}): ${JSON.stringify(text)}`);
    assert.equal(status.code, 0, text);
    if (WHO_BY_NAME[name] === 'apikey') {
      assert.equal(text, `API key configured - ${API_KEY.slice(0, 8)}***${API_KEY.slice(-5)}\nAuthentication is checked when you send a request.`);
      continue;
    }
    assert.equal(text, 'Logged in using ChatGPT');
    // Codex 0.169 does not print which ChatGPT account: what it sends says so.
    const sent = await codexCalls(s);
    const active = readJson(s.authFile).tokens;
    assert.equal(sent.accountId, WHO_BY_NAME[name], `codex exec sent the account id of ${name}`);
    assert.equal(sent.bearer, active.access_token, `codex exec sent the access token of ${name}`);
  }
  assert.deepEqual(refreshes(s), [], 'nobody refreshed anything');
});

test('a codex exec started before a switch makes no refresh and gets no refresh_token_reused while the tokens rotate', async (t) => {
  const s = await setUp(t);
  assert.equal((await cli(s.box, ['switch', NAMES.first])).code, 0);
  const started = readJson(s.authFile).tokens;
  backend.status = 503;
  const seen = backend.requests.length;
  const codex = startCodex(['exec', '--skip-git-repo-check', 'hi'], codexEnvFor(s));
  try {
    await waitFor(() => backend.requests.slice(seen).some((r) => r.authorization === `Bearer ${started.access_token}`), 'codex exec to call the backend with the first account', 30_000);

    // The switch, then every ChatGPT token rotates: the refresh token Codex holds in memory is spent.
    assert.equal((await cli(s.box, ['switch', NAMES.work])).code, 0);
    for (const args of [['token', '--force-refresh'], ['token', '--account', NAMES.first, '--force-refresh'], ['token', '--force-refresh']]) {
      const run = await cli(s.box, args);
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
    }
    // Now the backend turns Codex away: its 401 recovery re-reads auth.json, finds another account there, and gives up.
    backend.status = 401;
    const result = await Promise.race([codex.exited, sleep(20_000).then(() => codex.stop())]);
    const stderr = withoutTmpWarning(result.stderr);
    t.diagnostic(`codex exec ended (exit ${result.code}, signal ${result.signal}); stderr: ${JSON.stringify(stderr.slice(-600))}`);
    const sent = backend.requests.slice(seen).filter((r) => r.authorization !== undefined);
    assert.ok(sent.length > 0 && sent.every((r) => r.authorization === `Bearer ${started.access_token}`), 'codex exec kept the access token it started with');
    assert.match(stderr, /Your access token could not be refreshed because you have since logged out or signed in to another account\. Please sign in again\./, 'on a 401 Codex re-read auth.json, found another account and gave up');
  } finally {
    backend.status = 503;
    await codex.stop();
  }
  const all = refreshes(s);
  t.diagnostic(`refresh requests: ${all.map((r) => r.headers['user-agent']).join('; ')}`);
  // The third, of work again within 10 s of the first, gets that one's token (docs/protocol.md, "Forced refreshes").
  assert.equal(all.length, 2, 'the first two forced refreshes, and no other');
  assert.ok(all.every((r) => /^codexd\//.test(r.headers['user-agent'] ?? '')), 'every refresh was codexd\'s: Codex made none');
  // Nothing was spent twice: a reused refresh token would have left an account needing a new sign-in.
  const accounts = await (await s.client()).accounts();
  assert.deepEqual(accounts.map((account) => account.state), ['ok', 'ok', 'ok']);
  for (const name of [NAMES.first, NAMES.work]) assert.equal((await cli(s.box, ['token', '--account', name, '--force-refresh'])).code, 0);
});
