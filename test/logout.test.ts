// Logout: revoke the refresh token at the issuer (best effort), then remove auth.json, then tell
// every client. A corrupt auth.json is moved aside, and codex-auth says where.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Status } from '../client/index.js';
import type { TokenSet } from '../support/fake-issuer.js';
import { cli, hasAuth, waitFor } from './helpers.js';
import { codexAuthJson, writeAtomically } from './refresh-support.js';
import { deadPort, finishWorlds, world, type World } from './login-support.js';

after(finishWorlds);

const CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann';

/** A daemon holding a ChatGPT login (written the way Codex writes it) before it starts. */
async function loggedIn(name: string, options: { issuerUrl?: string } = {}): Promise<{ w: World; tokens: TokenSet }> {
  let tokens: TokenSet | undefined;
  const w = await world(name, {
    ...options,
    before: ({ issuer, box }) => {
      tokens = issuer.mintTokens();
      writeAtomically(box.codexHome, codexAuthJson(tokens, 'acct_fake_123', new Date().toISOString()));
    },
  });
  const status = await w.watcher.read();
  assert.equal(status.account?.type, 'chatgpt', 'the fixture login is loaded');
  return { w, tokens: tokens! };
}

function loggedOut(status: Status): boolean {
  return status.state === 'loggedOut' && status.account === null;
}

describe('logout', () => {
  it('revokes the refresh token with exactly the body Codex sends, then removes auth.json, then tells every client', async () => {
    const { w, tokens } = await loggedIn('logout revokes');
    // A slow revocation, so the order can be seen: nothing is removed until it has answered.
    w.issuer.script('/oauth/revoke', { delayMs: 2000, status: 200, body: {} });
    const logout = w.watcher.logout();
    await waitFor(() => w.issuer.count('/oauth/revoke') === 1, 'the revocation request', 20_000);
    const revoke = w.issuer.requests.find((r) => r.path === '/oauth/revoke')!;
    assert.equal(revoke.method, 'POST');
    assert.match(String(revoke.contentType), /^application\/json/);
    assert.equal(revoke.rawBody, JSON.stringify({ token: tokens.refresh_token, token_type_hint: 'refresh_token', client_id: CLIENT_ID }));
    assert.equal(hasAuth(w.box), true, 'auth.json stays until the revocation has answered');
    assert.equal(w.updates.values.some(loggedOut), false, 'no logout announced before the revocation has answered');

    assert.deepEqual(await logout, {}, 'no warning when the revocation worked');
    assert.equal(hasAuth(w.box), false, 'auth.json is removed');
    const status = await w.updates.next(loggedOut, 10_000);
    assert.equal(status.login, null);
    assert.equal(w.issuer.count('/oauth/revoke'), 1);
    assert.equal(w.issuer.count('/oauth/token'), 0, 'logout never refreshes');
  });

  it('codex-auth logout says "Successfully logged out", and the issuer has really revoked the refresh token', async () => {
    const { w, tokens } = await loggedIn('logout CLI');
    const run = await cli(w.box, ['logout'], { timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'Successfully logged out\n');
    assert.equal(run.stderr, '');
    assert.deepEqual(w.issuer.revoked, [{ token: tokens.refresh_token, token_type_hint: 'refresh_token', client_id: CLIENT_ID }]);
    assert.equal(hasAuth(w.box), false);
    await w.updates.next(loggedOut, 10_000);

    const again = await cli(w.box, ['logout'], { timeoutMs: 30_000 });
    assert.equal(again.code, 0);
    assert.equal(again.stdout, 'Not logged in\n');
    assert.equal(w.issuer.count('/oauth/revoke'), 1, 'nothing to revoke the second time');
  });

  it('a revocation the issuer refuses (500) still logs out, with a warning from codex-auth logout and exit status 0', async () => {
    const { w, tokens } = await loggedIn('revoke 500');
    w.issuer.script('/oauth/revoke', { status: 500, body: { error: 'server_error', error_description: `cannot revoke ${tokens.refresh_token}` } });
    const run = await cli(w.box, ['logout'], { timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'Successfully logged out\n');
    assert.match(run.stderr, /^codex-auth: Warning: .*revoke.*500/im);
    assert.ok(!run.stderr.includes(tokens.refresh_token), 'an issuer echoing the token does not put it on screen');
    assert.equal(w.issuer.count('/oauth/revoke'), 1);
    assert.equal(hasAuth(w.box), false, 'auth.json is removed anyway');
    await w.updates.next(loggedOut, 10_000);
  });

  it('an unreachable issuer still logs out, with a warning from codex-auth logout and exit status 0', async () => {
    const { w } = await loggedIn('issuer unreachable', { issuerUrl: `http://127.0.0.1:${await deadPort()}` });
    const run = await cli(w.box, ['logout'], { timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'Successfully logged out\n');
    assert.match(run.stderr, /^codex-auth: Warning: .*revoke/im);
    assert.match(run.stderr, /ECONNREFUSED|connect/i, 'the warning says why');
    assert.equal(hasAuth(w.box), false, 'auth.json is removed anyway');
    await w.updates.next(loggedOut, 10_000);
    assert.equal(w.issuer.count('/oauth/revoke'), 0, 'the fake issuer was never reached');
  });

  it('an API-key login is removed without asking the issuer anything', async () => {
    const w = await world('logout API key');
    const apiKey = 'sk-proj-logout-test-0123456789abcdef';
    w.extraSecrets.push({ label: 'API key', value: apiKey });
    await w.watcher.loginStart({ type: 'apiKey', apiKey });
    assert.equal(hasAuth(w.box), true);
    const run = await cli(w.box, ['logout'], { timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'Successfully logged out\n');
    assert.equal(hasAuth(w.box), false);
    assert.equal(w.issuer.requests.length, 0);
    await w.updates.next(loggedOut, 10_000);
  });

  it('a corrupt auth.json: codex-auth logout says it was not a login and where the file went', async () => {
    const broken = '{"auth_mode": "chatgpt", "tokens": ';
    const w = await world('logout corrupt', { before: ({ box }) => writeAtomically(box.codexHome, broken) });
    const run = await cli(w.box, ['logout'], { timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    const match = /^Not logged in: auth\.json cannot be used: auth\.json is not valid JSON \(.*\)\. Moved it to (\S+)\n$/.exec(run.stdout);
    assert.ok(match, run.stdout);
    assert.equal(dirname(match[1]!), w.box.codexHome);
    assert.match(basename(match[1]!), /^auth\.json\.corrupt-/);
    assert.equal(readFileSync(match[1]!, 'utf8'), broken, 'the named file holds the old bytes');
    assert.equal(hasAuth(w.box), false);
    assert.equal(w.issuer.requests.length, 0, 'nothing to revoke');
  });

  for (const how of [['login', '--with-api-key'], ['login', '--device-auth']]) {
    it(`a corrupt auth.json: codex-auth ${how.join(' ')} says where the file went`, async () => {
      const broken = '{"auth_mode": "chatgpt", "tokens": ';
      const w = await world(`${how.join(' ')} over a corrupt auth.json`, { before: ({ box }) => writeAtomically(box.codexHome, broken) });
      w.issuer.devicePendingPolls = 0;
      const run = await cli(w.box, how, { input: 'sk-login-over-corrupt-0123456789abcdef', timeoutMs: 30_000 });
      const code = /^ {3}([A-Z0-9]{4}-[A-Z0-9]{4})$/m.exec(run.stdout)?.[1];
      if (code) w.shown.push(code);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /(^|\n)Logged in /);
      const match = /\nThe auth\.json it replaced could not be used; it was moved to (\S+)\n$/.exec(run.stdout);
      assert.ok(match, run.stdout);
      assert.equal(dirname(match[1]!), w.box.codexHome);
      assert.match(basename(match[1]!), /^auth\.json\.corrupt-/);
      assert.equal(readFileSync(match[1]!, 'utf8'), broken, 'the named file holds the old bytes');
    });
  }
});
