// When codexd refreshes on its own: exp − margin, on a timer; after a suspend, on the tick; and
// what it writes. Every test runs the built codexd against the fake issuer.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_CLIENT_ID } from '../support/fake-issuer.js';
import { codexAuthJson, codexTimestamp, expMs, libfaketime, OTHER_ACCOUNT, readJson, refreshRequests, rotateOutside, scene, waitForRefreshes, writeAtomically } from './refresh-support.js';
import { rpcError, sleep, waitFor } from './helpers.js';
import { ErrorCodes } from '../shared/protocol.js';

const MARGIN_S = 600;
const LAST_REFRESH = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(\d{3}){0,2}Z$/; // RFC 3339 UTC, as chrono writes it

describe('proactive refresh', () => {
  it('a token that enters the margin is refreshed on time with no client asking, and auth.json holds the new tokens', async (t) => {
    // A huge tick: only the exp − margin timer can trigger this refresh.
    const s = await scene(t, { CODEXD_TICK_S: '3600' });
    await s.start();
    const { client: c, updates } = await s.watcher();
    const old = s.writeFixture({ accessExpiresInS: MARGIN_S + 3 });
    const dueAt = expMs(old.tokens.access_token) - MARGIN_S * 1000;
    await updates.next((u) => u.accessTokenExpiresAt === new Date(expMs(old.tokens.access_token)).toISOString());
    assert.equal(refreshRequests(s.issuer).length, 0, 'nothing is refreshed before it is due');

    const refreshed = await updates.next((u) => u.state === 'ok' && u.accessTokenExpiresAt !== null && Date.parse(u.accessTokenExpiresAt) > expMs(old.tokens.access_token), 10_000);
    const [request] = refreshRequests(s.issuer);
    assert.equal(refreshRequests(s.issuer).length, 1);
    assert.ok(request!.at >= dueAt - 50, `refreshed ${dueAt - request!.at} ms before exp − margin`);
    assert.ok(request!.at <= dueAt + 3000, `refreshed ${request!.at - dueAt} ms after exp − margin`);

    const file = readJson(s.authFile);
    assert.notEqual(file.tokens.access_token, old.tokens.access_token);
    assert.notEqual(file.tokens.refresh_token, old.tokens.refresh_token);
    assert.equal(file.tokens.account_id, old.accountId);
    assert.equal(refreshed.accessTokenExpiresAt, new Date(expMs(file.tokens.access_token)).toISOString());
    assert.match(file.last_refresh, LAST_REFRESH);
    assert.ok(Date.parse(file.last_refresh) > Date.parse(old.lastRefresh), 'last_refresh advanced');
    assert.equal(refreshed.lastRefresh, file.last_refresh);
    assert.equal(readFileSync(s.authFile, 'utf8'), codexAuthJson(file.tokens, old.accountId, file.last_refresh), "Codex's exact format");
    assert.equal(statSync(s.authFile).mode & 0o777, 0o600);

    const token = await c.token();
    assert.deepEqual(token, { type: 'chatgpt', accessToken: file.tokens.access_token, accountId: old.accountId, expiresAt: refreshed.accessTokenExpiresAt });
    assert.equal(refreshRequests(s.issuer).length, 1, 'the refreshed token is served without another request');
    // The refresh token codexd saved is the live one the issuer handed out.
    await rotateOutside(s.issuer, file.tokens.refresh_token);
  });

  it('a token outside the margin is left alone: no request, and auth.json stays byte for byte', async (t) => {
    const s = await scene(t, { CODEXD_TICK_S: '1' });
    const old = s.writeFixture({ accessExpiresInS: MARGIN_S + 120 });
    const before = statSync(s.authFile);
    await s.start();
    const c = await s.client();
    await sleep(2500); // at least two ticks
    const token = await c.token();
    assert.equal(token.type === 'chatgpt' && token.accessToken, old.tokens.access_token);
    const status = await c.read();
    assert.equal(status.state, 'ok');
    assert.equal(refreshRequests(s.issuer).length, 0, 'no refresh request');
    assert.equal(s.issuer.requests.length, 0, 'no request of any kind');
    assert.equal(readFileSync(s.authFile, 'utf8'), old.raw, 'auth.json is byte for byte the same');
    const after = statSync(s.authFile);
    assert.equal(after.ino, before.ino, 'auth.json was not replaced');
    assert.equal(after.mtimeMs, before.mtimeMs, 'auth.json was not rewritten');
  });

  it("the refresh request is Codex's: the same JSON body, field for field and in order, and the originator header", async (t) => {
    const s = await scene(t);
    const old = s.writeFixture({ accessExpiresInS: 60 });
    await s.start();
    const [request] = await waitForRefreshes(s, 1);
    assert.equal(request!.method, 'POST');
    assert.equal(request!.contentType?.split(';')[0], 'application/json');
    assert.equal(request!.headers['originator'], 'codex_cli_rs');
    assert.equal(
      request!.rawBody,
      JSON.stringify({ client_id: DEFAULT_CLIENT_ID, grant_type: 'refresh_token', refresh_reason: 'proactive_expiry', refresh_token: old.tokens.refresh_token }),
    );
  });

  it('a reply without an id_token keeps the old id_token and replaces only what came back', async (t) => {
    const s = await scene(t);
    const next = s.issuer.mintTokens({ accessExpiresInS: 3600 });
    s.issuer.script('/oauth/token', { status: 200, body: { access_token: next.access_token, refresh_token: next.refresh_token } });
    const old = s.writeFixture({ accessExpiresInS: 60 });
    await s.start();
    await waitForRefreshes(s, 1);
    const file = await waitFor(() => {
      const f = readJson(s.authFile);
      return f.tokens.access_token === next.access_token ? f : null;
    }, 'the new tokens on disk');
    assert.equal(file.tokens.id_token, old.tokens.id_token);
    assert.equal(file.tokens.refresh_token, next.refresh_token);
    assert.equal(file.tokens.account_id, old.accountId);
  });

  it('account/read with refreshToken refreshes now and reports the new expiry', async (t) => {
    const s = await scene(t);
    const old = s.writeFixture({ accessExpiresInS: 3600 });
    await s.start();
    const c = await s.client();
    const status = await c.read({ refreshToken: true });
    assert.equal(refreshRequests(s.issuer).length, 1);
    const file = readJson(s.authFile);
    assert.notEqual(file.tokens.access_token, old.tokens.access_token);
    assert.equal(status.state, 'ok');
    assert.equal(status.accessTokenExpiresAt, new Date(expMs(file.tokens.access_token)).toISOString());
    assert.equal(status.lastRefresh, file.last_refresh);
  });

  it('an access token without a readable exp is refreshed once last_refresh is more than 8 days old, and not before', async (t) => {
    const day = 24 * 3600 * 1000;
    const stale = await scene(t, { CODEXD_TICK_S: '1' });
    const fresh = await scene(t, { CODEXD_TICK_S: '1' });
    for (const [s, ageDays] of [[stale, 9], [fresh, 1]] as const) {
      const tokens = { ...s.issuer.mintTokens(), access_token: 'opaque-access-token-without-claims' };
      writeAtomically(s.box.codexHome, codexAuthJson(tokens, s.issuer.account.accountId, codexTimestamp(Date.now() - ageDays * day)));
      await s.start();
    }
    await waitForRefreshes(stale, 1);
    await sleep(2200);
    assert.equal(refreshRequests(stale.issuer).length, 1, 'the 9-day-old login is refreshed once');
    assert.equal(refreshRequests(fresh.issuer).length, 0, 'the 1-day-old login is left alone');
  });
});

describe('clocks', () => {
  it('after a suspend (the wall clock jumps, monotonic timers do not), the overdue refresh happens within a tick, unasked', async (t) => {
    const preload = libfaketime();
    const s = await scene(t, { CODEXD_TICK_S: '1' });
    const clockFile = join(s.box.dir, 'faketime');
    writeFileSync(clockFile, '+0');
    // Only codexd runs under libfaketime; the fake issuer (in this process) keeps real time.
    const env = {
      LD_PRELOAD: preload,
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
      FAKETIME_NO_CACHE: '1',
      FAKETIME_TIMESTAMP_FILE: clockFile,
    };
    const old = s.writeFixture({ accessExpiresInS: 3600 });
    await s.start({ env });
    const { updates } = await s.watcher();
    await sleep(2200);
    assert.equal(refreshRequests(s.issuer).length, 0, 'not due before the jump');

    s.issuer.accessTokenTtlS = 2 * 3600; // the new token is not due even on codexd's jumped clock
    writeFileSync(clockFile, '+55m'); // exp − margin is now 5 minutes in codexd's past
    const jumpedAt = Date.now();
    const [request] = await waitForRefreshes(s, 1, 8000);
    const delay = request!.at - jumpedAt;
    assert.ok(delay <= 2500, `the overdue refresh came ${delay} ms after the jump; expected within about one 1 s tick`);
    const update = await updates.next((u) => u.accessTokenExpiresAt !== null && Date.parse(u.accessTokenExpiresAt) > expMs(old.tokens.access_token));
    const file = readJson(s.authFile);
    assert.notEqual(file.tokens.refresh_token, old.tokens.refresh_token, 'the new tokens are on disk');
    assert.equal(update.accessTokenExpiresAt, new Date(expMs(file.tokens.access_token)).toISOString());
    await sleep(1500);
    assert.equal(refreshRequests(s.issuer).length, 1, 'exactly one refresh');
  });

  it('an issuer whose token is already expired on arrival (clock skew) is refreshed once, not in a loop', async (t) => {
    const s = await scene(t, { CODEXD_TICK_S: '1' });
    s.issuer.accessTokenTtlS = -300; // the issuer's clock is 5 minutes behind ours
    const old = s.writeFixture({ accessExpiresInS: 60 });
    await s.start();
    await waitForRefreshes(s, 1);
    const c = await s.client();
    for (let i = 0; i < 5; i++) {
      const token = await c.token();
      assert.ok(token.type === 'chatgpt' && token.accessToken !== old.tokens.access_token, 'the token the issuer gave is served');
    }
    await sleep(3500); // several ticks
    assert.equal(refreshRequests(s.issuer).length, 1, 'one refresh, no loop');
    const file = readJson(s.authFile);
    assert.notEqual(file.tokens.refresh_token, old.tokens.refresh_token, 'the rotated tokens are saved');
  });

  it('tokens that live shorter than the margin are refreshed again before they expire, but not in a loop', async (t) => {
    const preload = libfaketime();
    const s = await scene(t, { CODEXD_TICK_S: '1' });
    const clockFile = join(s.box.dir, 'faketime');
    writeFileSync(clockFile, '+0');
    const env = { LD_PRELOAD: preload, FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_NO_CACHE: '1', FAKETIME_TIMESTAMP_FILE: clockFile };
    s.issuer.accessTokenTtlS = 240; // 4 minutes, inside the 10-minute margin from the start
    s.writeFixture({ accessExpiresInS: 60 });
    await s.start({ env });
    await waitForRefreshes(s, 1);
    await sleep(2500);
    assert.equal(refreshRequests(s.issuer).length, 1, 'a short-lived token is not refreshed again at once');
    writeFileSync(clockFile, '+150s'); // past half of the 4-minute life, before its end
    await waitForRefreshes(s, 2, 5000);
    await sleep(2500);
    assert.equal(refreshRequests(s.issuer).length, 2, 'and then not again right away');
  });
});

describe('another account on disk', () => {
  it('a new login as another account drops the backoff pending for the old one and announces the new account', async (t) => {
    const s = await scene(t, { CODEXD_REFRESH_BACKOFF_BASE_MS: '100', CODEXD_REFRESH_BACKOFF_MAX_MS: '200' }, { proxy: true });
    const proxy = s.proxy!;
    proxy.inject = () => ({ status: 503, body: { error: 'temporarily_unavailable' } });
    await s.start();
    const { client: c, updates } = await s.watcher();
    s.writeFixture({ accessExpiresInS: -30 }); // expired, and the issuer is down
    await updates.next((u) => u.account?.type === 'chatgpt');
    const error = await rpcError(c.token());
    assert.equal(error.code, ErrorCodes.issuerUnavailable);
    await waitFor(() => proxy.received.length >= 3, `a few retries with backoff; log:\n${s.log()}`);

    const other = s.writeFixture({ accessExpiresInS: 3600, account: OTHER_ACCOUNT });
    const announced = await updates.next((u) => u.account?.type === 'chatgpt' && u.account.accountId === OTHER_ACCOUNT.accountId);
    assert.deepEqual(announced.account, { type: 'chatgpt', email: OTHER_ACCOUNT.email, planType: OTHER_ACCOUNT.planType, accountId: OTHER_ACCOUNT.accountId });
    assert.equal(announced.reauthReason, null);
    const retriesBefore = proxy.received.length;
    const token = await c.token();
    assert.deepEqual(token, { type: 'chatgpt', accessToken: other.tokens.access_token, accountId: OTHER_ACCOUNT.accountId, expiresAt: new Date(expMs(other.tokens.access_token)).toISOString() });
    await sleep(1500); // the old account's retries (every ≤ 200 ms) would have shown up here
    assert.ok(proxy.received.length <= retriesBefore + 1, `no retries for the old account: ${proxy.received.length - retriesBefore} more requests`);
    assert.equal((await c.read()).state, 'ok');
    assert.equal(readFileSync(s.authFile, 'utf8'), other.raw, 'the new login is left as it was written');
  });
});
