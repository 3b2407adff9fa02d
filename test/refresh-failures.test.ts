// What a failed refresh looks like to the user: Codex's permanent codes and words, no further
// requests until auth.json changes, and backoff for passing failures while a valid token lasts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { TokenResult } from '../client/index.js';
import { refreshErrorBody, type TokenSet } from '../support/fake-issuer.js';
import { rpcError, sleep, waitFor } from './helpers.js';
import { expMs, fixture, MESSAGES, readJson, refreshRequests, revokeOutside, rotateOutside, scene, writeAtomically, type Scene } from './refresh-support.js';
import { ErrorCodes } from '../shared/protocol.js';

interface PermanentCase {
  name: string;
  /** Makes the issuer refuse `tokens.refresh_token` the way this case needs. */
  arrange(s: Scene, tokens: TokenSet): Promise<void>;
  reason: string;
}

const permanentCases: PermanentCase[] = [
  {
    name: '401 refresh_token_expired',
    arrange: async (s) => s.issuer.script('/oauth/token', { status: 401, body: refreshErrorBody('refresh_token_expired') }),
    reason: MESSAGES.expired,
  },
  {
    name: 'refresh_token_reused, with no other writer to adopt from',
    // Someone spent the token and never wrote the result: the fake really answers refresh_token_reused.
    arrange: async (s, tokens) => void (await rotateOutside(s.issuer, tokens.refresh_token)),
    reason: MESSAGES.reused,
  },
  {
    name: 'refresh_token_invalidated',
    arrange: async (s, tokens) => revokeOutside(s.issuer, tokens.refresh_token),
    reason: MESSAGES.revoked,
  },
  {
    name: 'a plain 401 with an unknown code',
    arrange: async (s) => s.issuer.script('/oauth/token', { status: 401, body: { error: { message: 'Session ended.', code: 'session_terminated' } } }),
    reason: MESSAGES.other,
  },
];

describe('permanent failures', () => {
  for (const c of permanentCases) {
    it(`${c.name}: reauthRequired with Codex's words, announced, -33002, then no more requests until auth.json changes`, async (t) => {
      const s = await scene(t, { CODEXD_TICK_S: '1' });
      await s.start();
      const caller = await s.client();
      const { updates } = await s.watcher(); // a second client, which only listens
      const tokens = s.issuer.mintTokens({ accessExpiresInS: 600 + 2 }); // due about 2 s from now
      await c.arrange(s, tokens);
      const old = fixture(tokens, s.issuer.account);
      writeAtomically(s.box.codexHome, old.raw);

      const failed = await updates.next((u) => u.state === 'reauthRequired', 15_000);
      assert.equal(failed.reauthReason, c.reason);
      assert.equal(failed.account?.type === 'chatgpt' && failed.account.accountId, old.accountId);
      const requests = s.issuer.requests.length;

      const error = await rpcError(caller.token());
      assert.equal(error.code, ErrorCodes.reauthRequired);
      assert.ok(error.message.startsWith(c.reason), `the error says why: ${error.message}`);
      // Ten more tries, plain and forced, and a forced account/read: all answered without a request.
      for (let i = 0; i < 10; i++) {
        assert.equal((await rpcError(caller.token(i % 2 === 0 ? {} : { forceRefresh: true }))).code, ErrorCodes.reauthRequired);
      }
      assert.equal((await caller.read({ refreshToken: true })).state, 'reauthRequired');
      await sleep(1500); // ticks pass too
      assert.equal(s.issuer.requests.length, requests, 'no request after the permanent failure');
      assert.equal(readFileSync(s.authFile, 'utf8'), old.raw, 'auth.json is not touched after a failure');

      // A new login elsewhere (or an outside edit with new tokens) clears it.
      const fresh = s.writeFixture({ accessExpiresInS: 3600 });
      const cleared = await updates.next((u) => u.state === 'ok' && u.accessTokenExpiresAt === new Date(expMs(fresh.tokens.access_token)).toISOString());
      assert.equal(cleared.reauthReason, null);
      const token = await caller.token();
      assert.equal(token.type === 'chatgpt' && token.accessToken, fresh.tokens.access_token);
    });
  }
});

describe('passing failures', () => {
  it('500s then success: retries back off with jitter, the still-valid token is served meanwhile, and the retries are all there is', async (t) => {
    const failures = 6;
    const baseMs = 100;
    const s = await scene(t, { CODEXD_REFRESH_BACKOFF_BASE_MS: String(baseMs), CODEXD_TICK_S: '1' });
    s.issuer.script('/oauth/token', { status: 500, body: { error: 'server_error' } }, failures);
    await s.start();
    const { client: c, updates } = await s.watcher();
    const old = s.writeFixture({ accessExpiresInS: 120 }); // due (margin 600 s) but valid for 2 minutes
    await updates.next((u) => u.account !== null);

    const served: Array<{ token: TokenResult; refreshes: number }> = [];
    const deadline = Date.now() + 20_000;
    while (refreshRequests(s.issuer).length < failures + 1 && Date.now() < deadline) {
      served.push({ token: await c.token(), refreshes: refreshRequests(s.issuer).length });
      if (served.length % 50 === 0) {
        const status = await c.read();
        assert.equal(status.reauthReason, null);
        assert.notEqual(status.state, 'reauthRequired');
      }
      await sleep(5);
    }
    await waitFor(() => readJson(s.authFile).tokens.access_token !== old.tokens.access_token, 'the refreshed tokens on disk');
    await sleep(1000);
    const attempts = refreshRequests(s.issuer);
    assert.equal(attempts.length, failures + 1, `${failures} failures and one success, whatever the ${served.length} token calls did`);
    assert.ok(served.length > 20, 'token calls were made during the backoff');
    for (const { token, refreshes } of served) {
      if (refreshes <= failures) assert.equal(token.type === 'chatgpt' && token.accessToken, old.tokens.access_token, 'the old token while retrying');
    }
    const final = await c.token();
    assert.equal(final.type === 'chatgpt' && final.accessToken, readJson(s.authFile).tokens.access_token);

    const slackMs = 250;
    const gaps = attempts.slice(1).map((r, i) => r.at - attempts[i]!.at);
    gaps.forEach((gap, i) => {
      const ceiling = baseMs * 2 ** i;
      assert.ok(gap <= ceiling + slackMs, `retry ${i + 1} came ${gap} ms after the failure; its backoff ceiling is ${ceiling} ms (gaps ${gaps.join(', ')})`);
    });
    const total = attempts.at(-1)!.at - attempts[0]!.at;
    // Full jitter: the sum of six uniform waits is below 100 ms with probability ~4e-8.
    assert.ok(total >= 100, `${failures} retries took only ${total} ms: no backoff (gaps ${gaps.join(', ')})`);
  });

  it('when no valid token is left, account/token fails with -33003 and the reason, then recovers once the issuer is back', async (t) => {
    const s = await scene(t, { CODEXD_REFRESH_BACKOFF_BASE_MS: '100', CODEXD_REFRESH_BACKOFF_MAX_MS: '400' }, { proxy: true });
    const proxy = s.proxy!;
    let down = true;
    proxy.inject = (path) => (down && path === '/oauth/token' ? { status: 502, body: { error: 'bad_gateway' } } : undefined);
    await s.start();
    const { client: c, updates } = await s.watcher();
    const old = s.writeFixture({ accessExpiresInS: -30 });
    await updates.next((u) => u.account !== null);

    const since = proxy.received.length;
    const startedAt = Date.now();
    for (let i = 0; i < 20; i++) {
      const error = await rpcError(c.token());
      assert.equal(error.code, ErrorCodes.issuerUnavailable);
      assert.match(error.message, /Failed to refresh token: 502: bad_gateway/);
      await sleep(25);
    }
    const elapsed = Date.now() - startedAt;
    const attempts = proxy.received.length - since;
    // Backoff capped at 400 ms with full jitter: a handful of retries, not one per call.
    assert.ok(attempts < 20, `${attempts} refresh attempts for 20 token calls in ${elapsed} ms`);
    const status = await c.read();
    assert.equal(status.reauthReason, null, 'a passing failure never asks for a new login');
    assert.equal(readFileSync(s.authFile, 'utf8'), old.raw, 'auth.json is not touched after a failure');

    down = false;
    const token = await waitFor(async () => {
      const result = await c.token().catch(() => null);
      return result?.type === 'chatgpt' && result.accessToken !== old.tokens.access_token ? result : null;
    }, 'the refresh to succeed once the issuer is back', 5000);
    assert.ok(Date.parse(token.expiresAt!) > Date.now());
    assert.equal(refreshRequests(s.issuer).length, 1, 'one successful refresh reached the issuer');
  });
});
