// SWITCH_AT against the real daemon (issue 22 item 4, docs/usage.md): the active account's
// window reaches the threshold, codexd switches auth.json to the account with the most headroom,
// says why in account/updated, the log and status, and does not switch back while that account's
// window has not reset; when no account is left below the threshold it says so instead.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Status } from '../client/index.js';
import { usagePayload } from '../support/fake-backend.js';
import { cli, readLog, recorder, waitFor } from './helpers.js';
import { readJson } from './refresh-support.js';
import { usageScene } from './usage-support.js';

describe('SWITCH_AT', () => {
  it('switches before the wall, says why, and does not flip back', async (t) => {
    const u = await usageScene(t, 2, { CODEXD_SWITCH_AT: '90', CODEXD_USAGE_CACHE_S: '1' }, { 0: usagePayload({ primary: { usedPercent: 12 }, secondary: { usedPercent: 40 } }) });
    const [first, second] = u.accounts; // second is active
    assert.equal(readJson(u.s.authFile).tokens.account_id, second!.accountId);
    const updates = recorder<Status>((listener) => u.c.onAccountUpdated(listener));
    u.backend.scriptUsage(second!.accountId, { body: usagePayload({ primary: { usedPercent: 91 }, secondary: { usedPercent: 20 } }) });
    await u.c.rateLimits(); // the active account is at 91 %

    const switched = await updates.next((status) => status.autoSwitch !== null && status.autoSwitch.to !== null, 10_000);
    const reason = `${second!.email}: its 5-hour window is at 91% (SWITCH_AT 90); switched to ${first!.email}, the account with the most headroom (60% left)`;
    assert.deepEqual([switched.autoSwitch!.from, switched.autoSwitch!.to, switched.autoSwitch!.reason], [second!.email, first!.email, reason]);
    assert.equal(switched.accounts.find((account) => account.active)?.name, first!.email);
    assert.equal(readJson(u.s.authFile).tokens.account_id, first!.accountId, 'auth.json holds the account with headroom');
    await waitFor(() => readLog(u.s.box).includes('switched accounts before a usage limit'), 'the log line');
    const status = await cli(u.s.box, ['status']);
    assert.ok(status.stdout.includes(`  auto-switch:    `) && status.stdout.includes(reason), status.stdout);

    // Now the first account reaches it too, and the second one reads 0 %: its 5-hour window has not
    // reset (its reset time is an hour away), so it is held back and nobody moves.
    u.backend.scriptUsage(first!.accountId, { body: usagePayload({ primary: { usedPercent: 97 }, secondary: { usedPercent: 40 } }) });
    u.backend.scriptUsage(second!.accountId, { body: usagePayload({ primary: { usedPercent: 0 }, secondary: { usedPercent: 20 } }) });
    const reads = (name: string, used: number) => async () => (await u.c.rateLimits({ account: name })).rateLimits.primary?.usedPercent === used;
    await waitFor(reads(second!.email, 0), 'the second account at 0 % (a 1 s cache)');
    await waitFor(reads(first!.email, 97), 'the first account at 97 %');
    const near = await updates.next((status) => status.autoSwitch?.to === null, 10_000);
    assert.equal(near.autoSwitch!.from, first!.email);
    assert.match(near.autoSwitch!.reason, /all accounts are near their limits$/);
    assert.equal(readJson(u.s.authFile).tokens.account_id, first!.accountId, 'no flip back within the window');
    assert.ok(!updates.values.some((status) => status.autoSwitch?.to === second!.email), 'never switched back');
  });

  it('says once that all accounts are near their limits, and leaves the login where it is', async (t) => {
    const u = await usageScene(t, 2, { CODEXD_SWITCH_AT: '80' }, { 0: usagePayload({ primary: { usedPercent: 85 } }) });
    const [, second] = u.accounts;
    const updates = recorder<Status>((listener) => u.c.onAccountUpdated(listener));
    u.backend.scriptUsage(second!.accountId, { body: usagePayload({ secondary: { usedPercent: 100 }, reachedType: 'rate_limit_reached' }) });
    await u.c.rateLimits();
    // Its own poll may already have found the first account past 80 % while that one was active,
    // before the second logged in: every later status carries that earlier notice, so wait for this one.
    const near = await updates.next((status) => status.autoSwitch?.from === second!.email, 10_000);
    assert.equal(near.autoSwitch!.to, null);
    assert.equal(
      near.autoSwitch!.reason,
      `${second!.email}: the backend says its limit is reached (rate_limit_reached) (SWITCH_AT 80), and no other account is below 80%: all accounts are near their limits`,
    );
    assert.equal(readJson(u.s.authFile).tokens.account_id, second!.accountId);
    await u.c.read();
    assert.equal(updates.values.filter((status) => status.autoSwitch?.from === second!.email && status.autoSwitch.at !== near.autoSwitch!.at).length, 0, 'said once');
  });

  it('is off by default, and `codex-auth config set SWITCH_AT` checks the value', async (t) => {
    const u = await usageScene(t, 2);
    u.backend.scriptUsage(u.accounts[1]!.accountId, { body: usagePayload({ primary: { usedPercent: 100 }, reachedType: 'rate_limit_reached' }) });
    await u.c.rateLimits({ account: u.accounts[0]!.email });
    await u.c.rateLimits();
    assert.equal((await u.c.read()).autoSwitch, null);
    assert.equal(readJson(u.s.authFile).tokens.account_id, u.accounts[1]!.accountId);
    const set = await cli(u.s.box, ['config', 'set', 'SWITCH_AT', '90']);
    assert.equal(set.code, 0, set.stderr);
    const bad = await cli(u.s.box, ['config', 'set', 'SWITCH_AT', '101']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /SWITCH_AT must be an integer from 0 to 100, got "101"/);
  });
});
