// In-process unit tests of usage (daemon/usage/*): the switch policy (SWITCH_AT), its wiring
// (auto-switch.ts) against stub accounts, the poll schedule and the per-account cache and poll
// limit, under node:test's mock timers. The backend is a stub that counts requests; the real
// daemon against the fake backend is usage*.test.ts.
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { EventEmitter } from 'node:events';
import type { AccountSummary, AccountUsage, RateLimitSnapshot, RateLimitsResponse, Status, TokenResult } from '../shared/protocol.js';
import { loggedOutStatus } from '../shared/protocol.js';
import { AutoSwitch, type SwitchableAccounts } from '../daemon/usage/auto-switch.js';
import { PollSchedule } from '../daemon/usage/poll.js';
import { UsageService } from '../daemon/usage/service.js';
import { decide } from '../daemon/usage/switch-policy.js';
import { toRateLimits } from '../daemon/usage/snapshot.js';
import { createLogger } from '../daemon/runtime/log.js';

const log = createLogger({ level: 'silent', file: null });
const T0 = Date.UTC(2026, 0, 1, 12);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A snapshot with these windows' use; resets an hour (5-hour) and three days (weekly) after T0. */
function snapshot(primary: number | null, secondary: number | null, reached: RateLimitSnapshot['rateLimitReachedType'] = null): RateLimitSnapshot {
  const window = (used: number | null, resetsAt: number) => (used === null ? null : { usedPercent: used, windowDurationMins: 300, resetsAt: Math.floor(resetsAt / 1000) });
  return { limitId: 'codex', limitName: null, normalModelSlug: null, primary: window(primary, T0 + HOUR), secondary: window(secondary, T0 + 72 * HOUR), credits: null, individualLimit: null, spendControlReached: null, planType: 'plus', rateLimitReachedType: reached };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await turn();
}

describe('the switch policy', () => {
  const none = new Map<string, number>();

  test('stays below the threshold, and when nothing is known', () => {
    assert.deepEqual(decide({ name: 'a', snapshot: snapshot(89, 89) }, [{ name: 'b', snapshot: snapshot(0, 0) }], 90, none, T0), { kind: 'stay' });
    assert.deepEqual(decide({ name: 'a', snapshot: null }, [{ name: 'b', snapshot: snapshot(0, 0) }], 90, none, T0), { kind: 'stay' });
  });

  test('at the threshold in either window, or when the backend says so, switches to the most headroom', () => {
    const others = [
      { name: 'b', snapshot: snapshot(50, 10) },
      { name: 'c', snapshot: snapshot(20, 30) },
      { name: 'd', snapshot: snapshot(10, 95) },
      { name: 'e', snapshot: null },
    ];
    for (const active of [snapshot(90, 0), snapshot(0, 92), snapshot(10, 10, 'rate_limit_reached')]) {
      const decision = decide({ name: 'a', snapshot: active }, others, 90, none, T0);
      assert.equal(decision.kind, 'switch');
      assert.equal(decision.kind === 'switch' && decision.to, 'c', 'c: 70% left; b 50%; d is past the threshold; e unknown');
    }
    const weekly = decide({ name: 'a', snapshot: snapshot(0, 92) }, others, 90, none, T0);
    assert.deepEqual(weekly, {
      kind: 'switch',
      to: 'c',
      reason: 'a: its weekly window is at 92% (SWITCH_AT 90); switched to c, the account with the most headroom (70% left)',
      holdBackUntil: T0 + 72 * HOUR,
    });
    const reached = decide({ name: 'a', snapshot: snapshot(10, 10, 'rate_limit_reached') }, others, 90, none, T0);
    assert.match(reached.kind === 'switch' ? reached.reason : '', /^a: the backend says its limit is reached \(rate_limit_reached\)/);
  });

  test('reads a backend figure outside 0-100 within it: a negative one is no more headroom than an empty window', () => {
    const others = [
      { name: 'hostile', snapshot: snapshot(-50, -50) },
      { name: 'empty', snapshot: snapshot(0, 0) },
    ];
    const decision = decide({ name: 'a', snapshot: snapshot(95, 0) }, others, 90, none, T0);
    assert.equal(decision.kind === 'switch' && decision.reason.endsWith('(100% left)'), true, JSON.stringify(decision));
    assert.equal(decision.kind === 'switch' && decision.to, 'empty', 'a tie goes by name, as between any two equal accounts');
  });

  test('says all accounts are near their limits when none is below the threshold', () => {
    const decision = decide({ name: 'a', snapshot: snapshot(95, 0) }, [{ name: 'b', snapshot: snapshot(91, 0) }], 90, none, T0);
    assert.deepEqual(decision, { kind: 'allNear', reason: 'a: its 5-hour window is at 95% (SWITCH_AT 90), and no other account is below 90%: all accounts are near their limits' });
  });

  test('does not switch back to an account held back until its window resets', () => {
    const held = new Map([['b', T0 + HOUR]]);
    const decision = decide({ name: 'a', snapshot: snapshot(95, 0) }, [{ name: 'b', snapshot: snapshot(0, 0) }], 90, held, T0 + HOUR - 1);
    assert.equal(decision.kind, 'allNear');
    assert.equal(decide({ name: 'a', snapshot: snapshot(95, 0) }, [{ name: 'b', snapshot: snapshot(0, 0) }], 90, held, T0 + HOUR).kind, 'switch');
  });
});

/** Stub accounts: a list, a status, and switchTo/noteLimits that record. */
class StubAccounts extends EventEmitter implements SwitchableAccounts {
  active = 'a';
  names = ['a', 'b'];
  state: Status['state'] = 'ok';
  login: Status['login'] = null;
  switches: Array<[string, string]> = [];
  notes: string[] = [];
  list(): AccountSummary[] {
    return this.names.map((name) => ({ name, type: 'chatgpt', email: `${name}@example.com`, planType: 'plus', active: name === this.active, accessTokenExpiresAt: null, lastRefresh: null, state: name === this.active ? (this.state === 'loggedOut' ? 'ok' : this.state) : 'ok' }));
  }
  status(): Status {
    return { ...loggedOutStatus({ login: this.login, upstream: null, accounts: this.list(), credentialStore: { configured: 'file', using: 'file', keyringEntry: null, problem: null } }), state: this.state };
  }
  async switchTo(name: string, because: string): Promise<AccountSummary> {
    this.switches.push([name, because]);
    this.active = name;
    return this.list().find((account) => account.name === name)!;
  }
  noteLimits(_from: string, reason: string): void {
    this.notes.push(reason);
  }
}

/** Known usage by account name, as UsageService.list(false) gives it. */
class StubUsage extends EventEmitter {
  known = new Map<string, RateLimitSnapshot>();
  subscriptions = 0;
  constructor(private readonly accounts: StubAccounts) {
    super();
  }
  async list(): Promise<{ accounts: AccountUsage[] }> {
    return {
      accounts: this.accounts.list().map((account) => {
        const snap = this.known.get(account.name);
        const usage = snap ? { ...toRateLimits({}), rateLimits: snap, account: account.name, active: account.active, fetchedAt: new Date().toISOString(), ageS: 0 } : null;
        return { name: account.name, type: 'chatgpt' as const, active: account.active, usage, error: null };
      }),
    };
  }
  subscribe(): () => void {
    this.subscriptions++;
    return () => this.subscriptions--;
  }
}

/** The accounts switched to, in order. */
function targets(accounts: StubAccounts): string[] {
  return accounts.switches.map(([to]) => to);
}

describe('SWITCH_AT', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 }));
  afterEach(() => mock.timers.reset());

  test('switches before the wall, with the reason, and does not flip back until the window resets', async () => {
    const accounts = new StubAccounts();
    const usage = new StubUsage(accounts);
    const auto = new AutoSwitch(accounts, usage, 90, log);
    auto.start();
    assert.equal(usage.subscriptions, 1, 'it keeps the usage polled');

    usage.known.set('a', snapshot(89, 10));
    usage.known.set('b', snapshot(5, 5));
    await auto.evaluate();
    assert.deepEqual(accounts.switches, []);

    usage.known.set('a', snapshot(90, 10));
    usage.emit('updated');
    await settle();
    assert.deepEqual(accounts.switches, [['b', 'a: its 5-hour window is at 90% (SWITCH_AT 90); switched to b, the account with the most headroom (95% left)']]);

    // b reaches the threshold too while a's window has not reset (a's last known usage still shows 90%, or less: it is held back either way).
    usage.known.set('a', snapshot(0, 10));
    usage.known.set('b', snapshot(93, 5));
    await auto.evaluate();
    await auto.evaluate();
    assert.equal(accounts.switches.length, 1, 'no flip back to a');
    assert.deepEqual(accounts.notes, ['b: its 5-hour window is at 93% (SWITCH_AT 90), and no other account is below 90%: all accounts are near their limits'], 'said once');

    mock.timers.tick(HOUR); // a's 5-hour window resets
    await auto.evaluate();
    assert.deepEqual(targets(accounts), ['b', 'a']);
    auto.stop();
    assert.equal(usage.subscriptions, 0);
  });

  test('never switches in the middle of a refresh or a login: it waits for their end', async () => {
    const accounts = new StubAccounts();
    const usage = new StubUsage(accounts);
    const auto = new AutoSwitch(accounts, usage, 80, log);
    auto.start();
    usage.known.set('a', snapshot(85, 0));
    usage.known.set('b', snapshot(0, 0));
    accounts.state = 'refreshing';
    await auto.evaluate();
    accounts.state = 'ok';
    accounts.login = { loginId: 'l', type: 'chatgpt' };
    await auto.evaluate();
    assert.deepEqual(accounts.switches, []);
    accounts.login = null;
    accounts.emit('updated'); // the login's end is announced
    await settle();
    assert.deepEqual(targets(accounts), ['b']);
  });

  test('leaves an account that needs a new sign-in alone', async () => {
    const accounts = new StubAccounts();
    accounts.names = ['a', 'b', 'c'];
    const usage = new StubUsage(accounts);
    const original = accounts.list.bind(accounts);
    accounts.list = () => original().map((account) => (account.name === 'b' ? { ...account, state: 'reauthRequired' } : account));
    const auto = new AutoSwitch(accounts, usage, 90, log);
    usage.known.set('a', snapshot(95, 0));
    usage.known.set('b', snapshot(0, 0));
    usage.known.set('c', snapshot(50, 0));
    await auto.evaluate();
    assert.deepEqual(targets(accounts), ['c']);
  });
});

describe('the usage poll', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 }));
  afterEach(() => mock.timers.reset());

  test('runs at once for the first holder, then every interval, and stops with the last', () => {
    let rounds = 0;
    const poll = new PollSchedule(MINUTE, () => rounds++);
    const first = poll.hold();
    assert.equal(rounds, 1);
    const second = poll.hold();
    assert.equal(rounds, 1, 'a second holder does not poll again');
    mock.timers.tick(MINUTE - 1);
    assert.equal(rounds, 1);
    mock.timers.tick(1);
    assert.equal(rounds, 2);
    first();
    first(); // twice: once
    mock.timers.tick(MINUTE);
    assert.equal(rounds, 3, 'still held by the second');
    second();
    mock.timers.tick(10 * MINUTE);
    assert.equal(rounds, 3);
    assert.equal(poll.running, false);
  });
});

/** A UsageService over two stub accounts and a stub backend that counts requests per account. */
function usageService(options = { cacheMs: MINUTE, pollMs: MINUTE }): { service: UsageService; requests: string[]; used: Map<string, number> } {
  const requests: string[] = [];
  const used = new Map([['id-a', 10], ['id-b', 20]]);
  const accounts = {
    list: (): AccountSummary[] => ['a', 'b'].map((name) => ({ name, type: 'chatgpt', email: null, planType: null, active: name === 'a', accessTokenExpiresAt: null, lastRefresh: null, state: 'ok' })),
    token: async (_force: boolean, name?: string): Promise<TokenResult> => ({ type: 'chatgpt', accessToken: `token-${name}`, accountId: `id-${name ?? 'a'}`, expiresAt: null }),
  };
  const backend = {
    fetch: async ({ accountId }: { accountId: string | null }): Promise<RateLimitsResponse> => {
      requests.push(accountId!);
      return toRateLimits({ plan_type: 'plus', rate_limit: { primary_window: { used_percent: used.get(accountId!)!, limit_window_seconds: 18000, reset_after_seconds: 1, reset_at: 1 } } });
    },
  };
  return { service: new UsageService(accounts, backend, options, log), requests, used };
}

describe('the usage cache', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 }));
  afterEach(() => mock.timers.reset());

  test('serves an answer for the cache time, with its age, and asks again after it', async () => {
    const { service, requests } = usageService({ cacheMs: 30_000, pollMs: MINUTE });
    const answers = await Promise.all(Array.from({ length: 100 }, () => service.read('a')));
    assert.deepEqual(requests, ['id-a'], 'a hundred at once: one request');
    assert.ok(answers.every((answer) => answer.ageS === 0));
    mock.timers.tick(29_999);
    assert.equal((await service.read('a')).ageS, 29);
    assert.deepEqual(requests, ['id-a']);
    mock.timers.tick(1);
    assert.equal((await service.read('a')).ageS, 0);
    assert.deepEqual(requests, ['id-a', 'id-a']);
  });

  test('a subscriber\'s poll asks each account at most once a minute, however it is asked', async () => {
    const { service, requests, used } = usageService({ cacheMs: 1000, pollMs: MINUTE });
    const updates: Array<[string | null, number | undefined]> = [];
    service.on('updated', (update) => updates.push([update.account, update.rateLimits.primary?.usedPercent]));
    await service.read('b'); // asked just before the first round
    mock.timers.tick(30_000);
    const release = service.subscribe();
    await settle();
    assert.deepEqual(requests, ['id-b', 'id-a'], 'b was asked 30 s ago: only a');
    const again = service.subscribe(); // a second subscriber
    await settle();
    assert.deepEqual(requests, ['id-b', 'id-a']);
    mock.timers.tick(30_000); // b's minute is up, but the next round is a minute after the first
    await settle();
    assert.deepEqual(requests, ['id-b', 'id-a']);
    used.set('id-a', 55);
    mock.timers.tick(30_000);
    await settle();
    assert.deepEqual(requests, ['id-b', 'id-a', 'id-a', 'id-b']);
    assert.deepEqual(updates, [['b', 20], ['a', 10], ['a', 55]], 'announced when it changed, not when it stayed the same');
    release();
    again();
    mock.timers.tick(10 * MINUTE);
    await settle();
    assert.equal(requests.length, 4, 'no subscriber, no poll');
  });
});
