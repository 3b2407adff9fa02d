// What `codex-auth token --force-refresh` and `codex-auth status` say when refreshing fails,
// driven through the real codex-auth binary.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Status } from '../client/index.js';
import { deadPort } from './login-support.js';
import { cli, readLog, rpcError, waitFor } from './helpers.js';
import { MESSAGES, rotateOutside, scene, writeAtomically, fixture } from './refresh-support.js';
import { ErrorCodes } from '../shared/protocol.js';

describe('a refresh that fails', () => {
  it('token --force-refresh with the issuer down: exit 1, the cause on stderr, -33003; status shows the error and the next try', async (t) => {
    const s = await scene(t, { CODEXD_ISSUER: `http://127.0.0.1:${await deadPort()}` });
    await s.start();
    const { client: c, updates } = await s.watcher();
    const old = s.writeFixture({ accessExpiresInS: 3600 });
    await updates.next((u) => u.account !== null);

    const forced = await cli(s.box, ['token', '--force-refresh']);
    assert.equal(forced.code, 1, `a failed forced refresh is an error: ${forced.stderr}`);
    assert.equal(forced.stdout, '', 'no token is printed');
    assert.match(forced.stderr, /^codex-auth: Could not refresh the access token \(.*ECONNREFUSED.*\)\. Try again later; `codex-auth status` shows when codexd retries\.\n$/);
    assert.ok(!forced.stderr.includes(old.tokens.access_token));

    const error = await rpcError(c.token({ forceRefresh: true }));
    assert.equal(error.code, ErrorCodes.issuerUnavailable);
    assert.match(error.message, /ECONNREFUSED/);

    const plain = await cli(s.box, ['token']);
    assert.equal(plain.code, 0, 'a token that is not due is still served');
    assert.equal(plain.stdout.trim(), old.tokens.access_token);

    const status = await cli(s.box, ['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^Logged in using ChatGPT as /);
    assert.match(status.stdout, /\n {2}refresh failed: .*ECONNREFUSED/);
    assert.match(status.stdout, /\n {2}next try: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(in /);

    const json = await cli(s.box, ['status', '--json']);
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.stdout) as Status;
    assert.match(parsed.lastRefreshError ?? '', /ECONNREFUSED/);
    assert.ok(Date.parse(parsed.nextRefreshAt ?? '') >= Date.now() - 1000, `nextRefreshAt is a time: ${parsed.nextRefreshAt}`);
    assert.match(readLog(s.box), /refresh failed, will retry: .*ECONNREFUSED/);
  });

  it('once a refresh works again, status shows no error and the next scheduled refresh', async (t) => {
    const s = await scene(t);
    s.issuer.script('/oauth/token', { status: 503, body: { error: 'temporarily_unavailable' } });
    await s.start();
    const watcher = await s.watcher();
    const old = s.writeFixture({ accessExpiresInS: 3600 });
    await watcher.updates.next((u) => u.account !== null);

    const failed = await cli(s.box, ['token', '--force-refresh']);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /503: temporarily_unavailable/);
    // A forced refresh never skips the backoff (here at most 1 s): asked again until it has passed.
    await waitFor(() => watcher.client.token({ forceRefresh: true }).then(() => true, () => null), 'the backoff to pass');
    const forced = await cli(s.box, ['token', '--force-refresh']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(forced.stdout.trim(), old.tokens.access_token, 'a new token');
    const parsed = JSON.parse((await cli(s.box, ['status', '--json'])).stdout) as Status;
    assert.equal(parsed.lastRefreshError, null);
    assert.ok(Date.parse(parsed.nextRefreshAt ?? '') > Date.now(), `the next refresh is scheduled: ${parsed.nextRefreshAt}`);
  });
});

describe('a refresh that needs a new sign-in', () => {
  it('after refresh_token_reused, status exits 1 with a headline that says sign-in is needed, once; the OAuth error is logged by name', async (t) => {
    const s = await scene(t);
    await s.start();
    const { updates } = await s.watcher();
    const tokens = s.issuer.mintTokens({ accessExpiresInS: 3600 });
    await rotateOutside(s.issuer, tokens.refresh_token); // spent elsewhere, result never written
    writeAtomically(s.box.codexHome, fixture(tokens, s.issuer.account).raw);
    await updates.next((u) => u.account !== null);

    const forced = await cli(s.box, ['token', '--force-refresh']);
    assert.equal(forced.code, 1);
    assert.ok(forced.stderr.startsWith(`codex-auth: ${MESSAGES.reused}`), forced.stderr);

    const status = await cli(s.box, ['status']);
    assert.equal(status.code, 1);
    const [headline, ...details] = status.stdout.trimEnd().split('\n');
    assert.equal(
      headline,
      `Sign-in needed for ${s.issuer.account.email} (${s.issuer.account.planType}): Your access token could not be refreshed because your refresh token was already used. Run \`codex-auth login\`.`,
    );
    assert.doesNotMatch(status.stdout, /Logged in|log out|Please/);
    assert.equal(status.stdout.split('codex-auth login').length - 1, 1, 'one instruction');
    assert.ok(!details.some((line) => /refresh failed|next try|next refresh/.test(line)), `no retry is promised: ${status.stdout}`);

    const log = readLog(s.box);
    assert.match(log, /"oauthError":"refresh_token_reused"/);
    assert.doesNotMatch(log, /"code":"\[REDACTED\]"/);
  });
});
