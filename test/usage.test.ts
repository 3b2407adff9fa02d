// Usage and limits (issue 22, docs/usage.md): account/rateLimits/read in Codex app-server's
// shape, from the fake backend's /wham/usage, per account, cached (N clients, one request), with
// one clear error for an API key and for a backend that fails or changes shape, the restricted
// socket's share, and account/rateLimits/updated with the subscription's poll.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes, type RateLimitsUpdated } from '../client/index.js';
import { usagePayload } from '../support/fake-backend.js';
import { API_KEY } from './accounts-support.js';
import { client, fileSandbox, rawCall, recorder, restrictedSocket, rpcError, startDaemon, stopDaemons, waitFor } from './helpers.js';
import { testAccount, usageScene, writeBackendConfig } from './usage-support.js';

/** A backend answer, and what Codex 0.171's app-server made of it (`account/rateLimits/read`, observed). */
const PAYLOAD = {
  plan_type: 'team',
  account_id: 'acct_x',
  rate_limit: {
    allowed: false,
    limit_reached: true,
    primary_window: { used_percent: 100, limit_window_seconds: 18000, reset_after_seconds: 60, reset_at: 1765050000 },
    secondary_window: null,
  },
  credits: { has_credits: false, unlimited: false, balance: null },
  additional_rate_limits: [
    { limit_name: 'GPT-5-Codex-Mini', metered_feature: 'codex_mini', rate_limit: { allowed: true, limit_reached: false, primary_window: { used_percent: 3, limit_window_seconds: 18000, reset_after_seconds: 100, reset_at: 1765050001 } } },
  ],
  rate_limit_reached_type: { type: 'workspace_member_usage_limit_reached' },
  extra_field: 1,
};
/** Codex's snapshot of the `codex` limit, the one `rateLimits` answers with too. */
const CODEX_LIMIT = {
  limitId: 'codex',
  limitName: null,
  normalModelSlug: null,
  primary: { usedPercent: 100, windowDurationMins: 300, resetsAt: 1765050000 },
  secondary: null,
  credits: { hasCredits: false, unlimited: false, balance: null },
  individualLimit: null,
  spendControlReached: null,
  planType: 'team',
  rateLimitReachedType: 'workspace_member_usage_limit_reached',
};

const CODEX_ANSWER = {
  ordinaryUsageAllowed: null,
  rateLimits: CODEX_LIMIT,
  rateLimitsByLimitId: {
    codex: CODEX_LIMIT,
    codex_mini: {
      limitId: 'codex_mini',
      limitName: 'GPT-5-Codex-Mini',
      normalModelSlug: null,
      primary: { usedPercent: 3, windowDurationMins: 300, resetsAt: 1765050001 },
      secondary: null,
      credits: null,
      individualLimit: null,
      spendControlReached: null,
      planType: 'team',
      rateLimitReachedType: null,
    },
  },
  rateLimitResetCredits: null,
  accountId: 'acct_x',
  rateLimitUpsell: null,
};

describe('account/rateLimits/read', () => {
  it("answers in Codex's shape, from GET {chatgpt_base_url}/wham/usage with the account's token and id", async (t) => {
    const u = await usageScene(t, 1);
    const [account] = u.accounts;
    u.backend.scriptUsage(account!.accountId, { body: PAYLOAD });
    const { account: name, active, fetchedAt, ageS, ...codex } = await u.c.rateLimits();
    assert.deepEqual(codex, CODEX_ANSWER);
    assert.equal(name, account!.email);
    assert.equal(active, true);
    assert.ok(Math.abs(Date.parse(fetchedAt) - Date.now()) < 10_000, fetchedAt);
    assert.equal(ageS, 0);
    const [request] = u.backend.usageRequests();
    const token = await u.c.token();
    assert.equal(request!.method, 'GET');
    assert.equal(request!.url, '/backend-api/wham/usage');
    assert.equal(request!.authorization, `Bearer ${token.type === 'chatgpt' ? token.accessToken : ''}`);
    assert.equal(request!.accountId, account!.accountId);
  });

  it('asks the backend once for a hundred clients, and once per account', async (t) => {
    const u = await usageScene(t, 2);
    const [first, second] = u.accounts;
    u.backend.scriptUsage(first!.accountId, { body: usagePayload({ primary: { usedPercent: 11 } }), delayMs: 200 });
    u.backend.scriptUsage(second!.accountId, { body: usagePayload({ primary: { usedPercent: 22 } }) });
    const clients = await Promise.all(Array.from({ length: 100 }, () => client(u.s.box)));
    t.after(() => Promise.all(clients.map((c) => c.close())));
    const answers = await Promise.all(clients.map((c) => c.rateLimits({ account: first!.email })));
    assert.equal(u.backend.usageRequests(first!.accountId).length, 1, 'one request for all of them');
    assert.ok(answers.every((answer) => answer.rateLimits.primary?.usedPercent === 11 && answer.account === first!.email));
    // Within the cache time, from the cache; the active account (the second) is asked once too.
    assert.equal((await u.c.rateLimits({ account: first!.email })).rateLimits.primary?.usedPercent, 11);
    assert.equal((await u.c.rateLimits()).rateLimits.primary?.usedPercent, 22);
    assert.equal((await u.c.rateLimits({ account: second!.email })).account, second!.email);
    assert.equal(u.backend.usageRequests(first!.accountId).length, 1);
    assert.equal(u.backend.usageRequests(second!.accountId).length, 1);
    // The second account's request carried its own token.
    const token = await u.c.token({ account: second!.email });
    assert.equal(u.backend.usageRequests(second!.accountId)[0]!.authorization, `Bearer ${token.type === 'chatgpt' ? token.accessToken : ''}`);

    const missing = await rpcError(u.c.rateLimits({ account: 'nobody' }));
    assert.equal(missing.code, ErrorCodes.accountNotFound);
  });

  it('answers an API key with its own error code, and a ChatGPT account beside it still answers', async (t) => {
    const u = await usageScene(t, 1);
    await u.c.loginStart({ type: 'apiKey', apiKey: API_KEY });
    const error = await rpcError(u.c.rateLimits());
    assert.equal(error.code, ErrorCodes.noChatgptUsage);
    assert.equal(error.message, 'apikey-WXYZ is an API key: API keys have no ChatGPT usage or limits (see the OpenAI platform\'s usage page for the key)');
    assert.equal((await rpcError(u.c.rateLimits({ account: 'apikey-WXYZ' }))).code, ErrorCodes.noChatgptUsage);
    assert.equal((await u.c.rateLimits({ account: u.accounts[0]!.email })).rateLimits.primary?.usedPercent, 0);
    assert.equal(u.backend.usageRequests().length, 1, 'no request for the key');
  });

  it('gives one clear error when the backend fails or changes shape, and serves on', async (t) => {
    const u = await usageScene(t, 1);
    const id = u.accounts[0]!.accountId;
    const window = { used_percent: 5, limit_window_seconds: 18000, reset_at: 1765050000 };
    u.backend.scriptUsage(
      id,
      { status: 500, body: { detail: 'boom' } },
      { body: 'not json' },
      { body: { plan_type: 'plus', rate_limit: { primary_window: window } } },
      { body: { ...usagePayload({}), rate_limit_reached_type: 'rate_limit_reached' } },
      { status: 401, body: { detail: 'expired' } },
      { body: usagePayload({ primary: { usedPercent: 9 } }) },
    );
    const expected: Array<[RegExp, string]> = [
      [/answered HTTP 500; try again later$/, 'HTTP 500'],
      [/answered with something that is not JSON; try again later$/, 'not JSON'],
      [/has changed shape \(rate_limit\.primary_window\.reset_after_seconds is not an integer\)/, 'a window without reset_after_seconds, as Codex refuses it'],
      [/has changed shape \(rate_limit_reached_type is not an object or null\)/, 'a reached type that is a string'],
      [/refused the access token \(HTTP 401\)/, 'HTTP 401'],
    ];
    for (const [pattern, what] of expected) {
      const error = await rpcError(u.c.rateLimits());
      assert.equal(error.code, ErrorCodes.usageUnavailable, what);
      assert.match(error.message, /^Could not read the usage of dev@example\.com: /, what);
      assert.match(error.message, pattern, what);
      assert.ok(!error.message.includes('\n'), 'one line');
    }
    assert.equal((await u.c.read()).state, 'ok', 'the login is untouched');
    assert.equal((await u.c.rateLimits()).rateLimits.primary?.usedPercent, 9);
    assert.equal(u.daemon.proc.exitCode, null);
  });

  it('times out a backend that does not answer, and does not read a huge answer', async (t) => {
    const u = await usageScene(t, 1, { CODEXD_HTTP_TIMEOUT_S: '1' });
    u.backend.scriptUsage(u.accounts[0]!.accountId, { body: {}, hang: true });
    const error = await rpcError(u.c.rateLimits());
    assert.equal(error.code, ErrorCodes.usageUnavailable);
    assert.match(error.message, /the request to the ChatGPT backend failed: no answer from 127\.0\.0\.1:\d+ within 1 s$/);
    // Bigger than 1 MiB: not read.
    u.backend.scriptUsage(u.accounts[0]!.accountId, { body: { ...usagePayload({}), padding: 'x'.repeat(1024 * 1024) } });
    const big = await rpcError(u.c.rateLimits());
    assert.match(big.message, /the request to the ChatGPT backend failed: the reply is larger than 1 MiB$/);
    assert.equal(u.daemon.proc.exitCode, null);
  });

  it('serves the active account on the restricted socket, and no other', async (t) => {
    const u = await usageScene(t, 2);
    const restricted = restrictedSocket(u.s.box);
    const active = await rawCall(restricted, 'account/rateLimits/read');
    assert.equal((active.result as { account: string }).account, u.accounts[1]!.email);
    const named = await rawCall(restricted, 'account/rateLimits/read', { account: u.accounts[0]!.email });
    assert.equal(named.error?.code, ErrorCodes.restricted);
    assert.match(named.error.message, /^account\/rateLimits\/read for a named account is not served on the restricted socket/);
    assert.equal((await rawCall(restricted, 'account/usage/list')).error?.code, ErrorCodes.restricted);
    assert.equal(u.backend.usageRequests(u.accounts[0]!.accountId).length, 0);
  });
});

describe('usage on a follower', () => {
  it("reads the upstream's active account's usage with the token it mirrors, from its own config.toml's backend", async (t) => {
    const u = await usageScene(t, 1);
    u.backend.scriptUsage(u.accounts[0]!.accountId, { body: usagePayload({ primary: { usedPercent: 33 } }) });
    const follower = fileSandbox({ CODEXD_UPSTREAM: restrictedSocket(u.s.box) });
    writeBackendConfig(follower.codexHome, u.backend.url);
    const daemons = [await startDaemon(follower)];
    t.after(() => stopDaemons(daemons));
    const c = await client(follower);
    t.after(() => c.close());
    await waitFor(async () => (await c.read()).state === 'ok', 'the follower mirrors the login');
    const usage = await c.rateLimits();
    assert.deepEqual([usage.account, usage.rateLimits.primary?.usedPercent], [null, 33]);
    const token = await u.c.token();
    assert.equal(u.backend.usageRequests()[0]!.authorization, `Bearer ${token.type === 'chatgpt' ? token.accessToken : ''}`);
    assert.equal((await rpcError(c.rateLimits({ account: 'work' }))).code, ErrorCodes.accountNotFound, 'a follower has no accounts of its own');
  });
});

describe('account/rateLimits/updated', () => {
  it('tells every client when a read changes an account\'s usage, and the restricted socket the active account only', async (t) => {
    const u = await usageScene(t, 2);
    const [inactive, active] = u.accounts;
    const listener = await u.s.client();
    const updates = recorder<RateLimitsUpdated>((l) => listener.onRateLimitsUpdated(l));
    const remote = await client(u.s.box, restrictedSocket(u.s.box));
    t.after(() => remote.close());
    const remoteUpdates = recorder<RateLimitsUpdated>((l) => remote.onRateLimitsUpdated(l));
    u.backend.scriptUsage(inactive!.accountId, { body: usagePayload({ primary: { usedPercent: 30 } }) });
    u.backend.scriptUsage(active!.accountId, { body: usagePayload({ primary: { usedPercent: 40 } }) });
    await u.c.rateLimits({ account: inactive!.email });
    const first = await updates.next((update) => update.account === inactive!.email);
    assert.equal(first.rateLimits.primary?.usedPercent, 30);
    assert.equal(first.active, false);
    await u.c.rateLimits();
    const second = await remoteUpdates.next();
    assert.deepEqual([second.account, second.active, second.rateLimits.primary?.usedPercent], [active!.email, true, 40]);
    assert.ok(!remoteUpdates.values.some((update) => update.account === inactive!.email), 'the restricted socket hears of the active account only');
  });

  it('polls every ChatGPT account at once for a subscriber, and not again within a minute', async (t) => {
    const u = await usageScene(t, 2);
    await u.c.loginStart({ type: 'apiKey', apiKey: API_KEY });
    const watcher = await u.s.client();
    const updates = recorder<RateLimitsUpdated>((l) => watcher.onRateLimitsUpdated(l));
    await watcher.subscribeRateLimits();
    await updates.next((update) => update.account === u.accounts[0]!.email);
    await updates.next((update) => update.account === u.accounts[1]!.email);
    assert.equal(u.backend.usageRequests().length, 2, 'one per ChatGPT account, none for the key');
    // A second subscriber, and a client's re-subscription: the accounts were asked less than a minute ago.
    const other = await u.s.client();
    await other.subscribeRateLimits();
    await watcher.subscribeRateLimits();
    await other.unsubscribeRateLimits();
    await u.c.usage(); // a round trip after the subscriptions' own
    assert.equal(u.backend.usageRequests().length, 2);
    const listed = await u.c.usage();
    assert.deepEqual(listed.map((row) => [row.name, row.type, row.usage?.rateLimits.primary?.usedPercent ?? null]), [
      ['apikey-WXYZ', 'apiKey', null],
      [u.accounts[0]!.email, 'chatgpt', 0],
      [testAccount(u.s, 1).email, 'chatgpt', 0],
    ]);
    await waitFor(() => u.backend.usageRequests().length === 2, 'no further request');
  });
});
