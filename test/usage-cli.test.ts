// codex-auth usage, and the usage `accounts` and `status` show (issue 22, docs/usage.md): the real
// CLI against the daemon and the fake backend.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccountUsage, RateLimitsReadResult } from '../client/index.js';
import { usagePayload } from '../support/fake-backend.js';
import { API_KEY } from './accounts-support.js';
import { cli } from './helpers.js';
import { usageScene } from './usage-support.js';

/** Local time is UTC for the CLI here, so that a reset time reads the same on every machine. */
const UTC = { env: { TZ: 'UTC' } };
/** A reset on another day than today is shown with its day ("Mon, Dec 7 00:11"): late in the day a 2-hour window ends tomorrow. */
const ON_ANOTHER_DAY = '(?:[A-Z][a-z]{2}, [A-Z][a-z]{2} \\d{1,2} )?';

describe('codex-auth usage', () => {
  it('shows the active account, one account, or every account, as a table or as JSON', async (t) => {
    const u = await usageScene(t, 2);
    const [first, second] = u.accounts;
    const now = Date.now();
    u.backend.scriptUsage(first!.accountId, { body: usagePayload({ plan: 'pro', primary: { usedPercent: 42, resetAfterSeconds: 2 * 3600 + 13 * 60 + 20 }, secondary: { usedPercent: 7, resetAfterSeconds: 3 * 86_400 + 4 * 3600 + 20 }, credits: { has_credits: true, unlimited: false, balance: '12.5' }, now }) });
    u.backend.scriptUsage(second!.accountId, { body: usagePayload({ primary: { usedPercent: 100 }, reachedType: 'rate_limit_reached' }) });

    const active = await cli(u.s.box, ['usage'], UTC);
    assert.equal(active.code, 0, active.stderr);
    const [header, row] = active.stdout.trimEnd().split('\n');
    assert.match(header!, /^\s+ACCOUNT\s+PLAN\s+5-HOUR\s+WEEKLY\s+CREDITS\s+AS OF$/);
    assert.match(row!, new RegExp(`^\\*\\s+${second!.email.replace('.', '\\.')}\\s+plus\\s+100% \\(resets ${ON_ANOTHER_DAY}\\d\\d:\\d\\d, in 1 h\\)`));
    assert.match(active.stdout, /limit reached \(rate_limit_reached\)$/m);

    const one = await cli(u.s.box, ['usage', '--account', first!.email], UTC);
    assert.equal(one.code, 0, one.stderr);
    const resets = (seconds: number): string => new Date(Math.floor(now / 1000) * 1000 + seconds * 1000).toISOString().slice(11, 16);
    assert.match(one.stdout, new RegExp(`42% \\(resets ${ON_ANOTHER_DAY}${resets(2 * 3600 + 13 * 60 + 20)}, in 2 h 13 min\\)`));
    assert.match(one.stdout, /7% \(resets \S.* (?!24)\d\d:\d\d, in 3 days 4 h\)\s+12\.5\s+now/);
    assert.match(one.stdout.split('\n')[1]!, /^ /, 'another account than the active one: no *');
    const named = await cli(u.s.box, ['usage', '--account', second!.email], UTC);
    assert.match(named.stdout.split('\n')[1]!, /^\*/, 'the active account, named: *');

    const json = await cli(u.s.box, ['usage', '--json', '--account', first!.email]);
    const parsed = JSON.parse(json.stdout) as RateLimitsReadResult;
    assert.deepEqual([parsed.account, parsed.active, parsed.rateLimits.primary?.usedPercent, parsed.rateLimits.primary?.windowDurationMins, parsed.rateLimits.planType], [first!.email, false, 42, 300, 'pro']);

    await cli(u.s.box, ['login', '--with-api-key'], { input: API_KEY });
    u.backend.scriptUsage(second!.accountId, { status: 503, body: {} });
    const all = await cli(u.s.box, ['usage', '--all', '--json']);
    assert.equal(all.code, 0, all.stderr);
    const rows = JSON.parse(all.stdout) as AccountUsage[];
    assert.deepEqual(rows.map((r) => [r.name, r.type, r.active, r.usage?.rateLimits.primary?.usedPercent ?? null]), [
      ['apikey-WXYZ', 'apiKey', true, null],
      [first!.email, 'chatgpt', false, 42],
      [second!.email, 'chatgpt', false, 100],
    ]);
    assert.equal(rows[2]!.error, null, 'the cached answer is still young: no new request');
    const table = await cli(u.s.box, ['usage', '--all'], UTC);
    assert.match(table.stdout, /^\*\s+apikey-WXYZ\s+-\s+API key: no ChatGPT usage$/m);

    const key = await cli(u.s.box, ['usage']);
    assert.equal(key.code, 1);
    assert.match(key.stderr, /^codex-auth: apikey-WXYZ is an API key: API keys have no ChatGPT usage or limits/);
    const both = await cli(u.s.box, ['usage', '--all', '--account', 'x']);
    assert.equal(both.code, 2);
  });

  it('says why an account could not be read, in one line, and exits 1', async (t) => {
    const u = await usageScene(t, 1);
    u.backend.scriptUsage(u.accounts[0]!.accountId, { status: 500, body: {} });
    const single = await cli(u.s.box, ['usage']);
    assert.equal(single.code, 1);
    assert.equal(single.stderr, 'codex-auth: Could not read the usage of dev@example.com: the ChatGPT backend at ' + new URL(u.backend.url).host + ' answered HTTP 500; try again later\n');
    const all = await cli(u.s.box, ['usage', '--all']);
    assert.equal(all.code, 1);
    assert.match(all.stdout, /dev@example\.com\s+-\s+unavailable \(below\)\ndev@example\.com: Could not read the usage of dev@example\.com: .*HTTP 500/);
  });

  it('accounts shows the two percentages once known, and status the active account\'s', async (t) => {
    const u = await usageScene(t, 2);
    const before = await cli(u.s.box, ['accounts']);
    assert.ok(!before.stdout.includes('5H / WEEK'), 'no column while nothing is known');
    u.backend.scriptUsage(u.accounts[1]!.accountId, { body: usagePayload({ primary: { usedPercent: 64 }, secondary: { usedPercent: 12 } }) });
    await cli(u.s.box, ['usage']);
    const accounts = await cli(u.s.box, ['accounts']);
    assert.match(accounts.stdout, /5H \/ WEEK/);
    assert.match(accounts.stdout, /^\*\s+user1@example\.com\s.*\s64% \/ 12%\s+ok$/m);
    assert.match(accounts.stdout, /^\s+dev@example\.com\s.*\s-\s+ok$/m);
    const status = await cli(u.s.box, ['status'], UTC);
    assert.match(status.stdout, new RegExp(`^ {2}usage: {10}5-hour 64% \\(resets ${ON_ANOTHER_DAY}\\d\\d:\\d\\d, in 1 h\\), weekly 12% \\(resets .*, in 3 days\\)$`, 'm'));
    assert.equal(u.backend.usageRequests().length, 1, 'accounts and status ask no backend');
  });
});
