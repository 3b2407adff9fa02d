// The whole browser login as a person does it: `codex-auth login --no-browser`, the printed URL
// opened in a real (headless) Chromium, the consent click, the success page, and everything the
// login leaves behind: auth.json in Codex's format, notifications to every client, the issuer's
// record of the PKCE exchange.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeJwtPayload } from '../support/fake-issuer.js';
import { authPath, readAuth, startCli, waitFor } from './helpers.js';
import { chromiumMissing, finishWorlds, inChromium, world } from './login-support.js';

const inCi = process.env['CI'] === 'true';
/** Without Chromium the test is skipped on a workstation, but fails in CI. */
const skip = chromiumMissing !== null && !inCi ? chromiumMissing : false;

after(finishWorlds);

describe('browser login in a real browser', () => {
  it('codex-auth login --no-browser, opened in Chromium and approved, signs the user in and shows a page saying they can close the tab', { skip, timeout: 120_000 }, async () => {
    assert.equal(chromiumMissing, null, `CI=true but ${chromiumMissing}`);
    const w = await world('browser login in Chromium');
    const { issuer, box } = w;

    // 1. the CLI prints the authorize URL and waits
    const run = startCli(box, ['login', '--no-browser'], { env: { CODEXD_NO_AUTOSTART: '1' } });
    const printed = await waitFor(() => /^(https?:\/\/\S+\/oauth\/authorize\?\S+)$/m.exec(run.stdout()), 'codex-auth to print the authorize URL', 20_000);
    const authUrl = printed[1]!;
    w.shown.push(authUrl);
    assert.ok(authUrl.startsWith(`${issuer.url}/oauth/authorize?`), authUrl);
    assert.match(run.stdout(), /Not opening a browser: --no-browser was given/);
    const redirectUri = new URL(authUrl).searchParams.get('redirect_uri')!;
    assert.match(redirectUri, /^http:\/\/localhost:\d+\/auth\/callback$/);
    assert.match(run.stdout(), new RegExp(`Starting local login server on http://localhost:${new URL(redirectUri).port}\\.`));
    const loginId = (await w.updates.next((s) => s.login?.type === 'chatgpt', 20_000)).login!.loginId;

    // 2–4. a person opens it, clicks Continue and lands on the success page
    const { successUrl, successText, successTitle } = await inChromium(async (page) => {
      await page.goto(authUrl);
      await page.click('#approve');
      await page.waitForURL(/\/success(\?|$)/);
      await page.waitForLoadState('load');
      const seen = { successUrl: page.url(), successText: await page.innerText('body'), successTitle: await page.title() };
      await page.screenshot({ path: join(box.dir, 'login-success.png'), fullPage: true }); // the page renders; gone with the sandbox
      return seen;
    });

    assert.equal(new URL(successUrl).origin, new URL(redirectUri).origin, 'the success page is served by the login callback server');
    assert.ok(!successUrl.includes('id_token'), `the success URL must not carry the id_token: ${successUrl}`);
    assert.match(successText, /you can close this tab/i);
    assert.match(successText, /signed in/i);
    assert.match(successTitle, /signed in/i);

    // 5. the CLI reports who logged in and exits 0
    const code = await run.exited;
    assert.equal(code, 0, `codex-auth login exited ${code}: ${run.stderr()}`);
    assert.match(run.stdout(), /^Logged in as dev@example\.com \(pro\)$/m);

    // auth.json in Codex's own format
    const text = readAuth(box);
    const auth = JSON.parse(text) as Record<string, unknown>;
    assert.equal(text, JSON.stringify(auth, null, 2), 'pretty-printed with 2 spaces, as serde to_string_pretty writes it');
    assert.deepEqual(Object.keys(auth), ['auth_mode', 'OPENAI_API_KEY', 'tokens', 'last_refresh']);
    assert.equal(auth['auth_mode'], 'chatgpt');
    const tokens = auth['tokens'] as Record<string, string>;
    assert.deepEqual(Object.keys(tokens), ['id_token', 'access_token', 'refresh_token', 'account_id']);
    assert.equal(tokens['account_id'], 'acct_fake_123');
    assert.equal(decodeJwtPayload(tokens['id_token']!)['email'], 'dev@example.com');
    assert.ok(typeof decodeJwtPayload(tokens['access_token']!)['exp'] === 'number');
    assert.match(tokens['refresh_token']!, /^rt_/);
    assert.match(String(auth['OPENAI_API_KEY']), /^sk-fake-/, 'the API key from the token exchange is stored');
    assert.match(String(auth['last_refresh']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.ok(Math.abs(Date.parse(String(auth['last_refresh'])) - Date.now()) < 120_000, 'last_refresh is now');
    assert.equal(statSync(authPath(box)).mode & 0o777, 0o600);

    // both notifications reached the second client, connected before the login
    const completed = await w.completed.next((e) => e.loginId === loginId, 10_000);
    assert.deepEqual(completed, { loginId, success: true, error: null });
    const updated = await w.updates.next((s) => s.account?.type === 'chatgpt', 10_000);
    assert.deepEqual(updated.account, { type: 'chatgpt', email: 'dev@example.com', planType: 'pro', accountId: 'acct_fake_123' });
    assert.equal(updated.state, 'ok');
    const settled = await w.updates.next((s) => s.account?.type === 'chatgpt' && s.login === null, 10_000);
    assert.equal(settled.state, 'ok');

    // the issuer saw one PKCE-verified code exchange, then the API-key token exchange
    assert.equal(issuer.codeExchanges.length, 1, 'the code is exchanged exactly once');
    assert.deepEqual(issuer.codeExchanges[0], { code: issuer.codeExchanges[0]!.code, pkceVerified: true, redirectUri });
    assert.equal(issuer.count('/oauth/token', 'authorization_code'), 1);
    const exchange = issuer.requests.find((r) => r.path === '/oauth/token' && r.body['grant_type'] === 'authorization_code')!;
    const challenge = new URL(authUrl).searchParams.get('code_challenge');
    assert.equal(createHash('sha256').update(String(exchange.body['code_verifier'])).digest('base64url'), challenge);
    const apiKeyGrants = issuer.requests.filter((r) => r.path === '/oauth/token' && r.body['grant_type'] === 'urn:ietf:params:oauth:grant-type:token-exchange');
    assert.equal(apiKeyGrants.length, 1, 'the API-key token exchange is made once');
    assert.equal(apiKeyGrants[0]!.body['subject_token'], tokens['id_token']);
    assert.equal(apiKeyGrants[0]!.body['requested_token'], 'openai-api-key');
    assert.equal(issuer.revoked.length, 0, 'nothing to revoke on a first login');
  });
});
