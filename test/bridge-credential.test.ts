// client/bridge/credential.ts: when a status means a new token for the bridge to hand Codex.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccountCredential } from '../client/bridge/credential.js';
import type { CodexdClient } from '../client/index.js';
import { loggedOutStatus, type AccountSummary, type Status } from '../shared/protocol.js';

const EXPIRES = '2026-12-07T02:00:00.000Z';

function chatgpt(fields: Partial<Status> = {}): Status {
  return {
    ...loggedOutStatus({ login: null, upstream: null, accounts: [], credentialStore: { configured: 'file', using: 'file', keyringEntry: null, problem: null } }),
    account: { type: 'chatgpt', email: 'a@example.com', planType: 'plus', accountId: 'acct-1' },
    state: 'ok',
    accessTokenExpiresAt: EXPIRES,
    lastRefresh: '2026-12-07T01:00:00.123000000Z',
    ...fields,
  };
}

describe('AccountCredential.version', () => {
  // version() reads only the status it is given.
  const active = new AccountCredential({} as CodexdClient, undefined);

  it('changes with a refresh that gives a token of the same expiry (two refreshes within one second)', () => {
    assert.notEqual(active.version(chatgpt()), active.version(chatgpt({ lastRefresh: '2026-12-07T01:00:00.456000000Z' })));
  });

  it('changes with the expiry, the account and the state, and not with what does not concern the token', () => {
    const base = active.version(chatgpt());
    assert.notEqual(active.version(chatgpt({ accessTokenExpiresAt: '2026-12-07T02:00:01.000Z' })), base);
    assert.notEqual(active.version(chatgpt({ account: { type: 'chatgpt', email: 'b@example.com', planType: 'plus', accountId: 'acct-2' } })), base);
    assert.notEqual(active.version(chatgpt({ state: 'reauthRequired' })), base);
    assert.equal(active.version(chatgpt({ nextRefreshAt: '2026-12-07T01:55:00.000Z', lastRefreshError: 'the issuer did not answer' })), base);
  });

  it("follows a named account's own summary in the same way, whether or not it is active", () => {
    const named = new AccountCredential({} as CodexdClient, 'b@example.com');
    const summary = (fields: Partial<AccountSummary> = {}): Status =>
      chatgpt({ accounts: [{ name: 'b@example.com', type: 'chatgpt', email: 'b@example.com', planType: 'plus', active: false, accessTokenExpiresAt: EXPIRES, lastRefresh: '2026-12-07T01:00:00.123000000Z', state: 'ok', ...fields }] });
    const base = named.version(summary());
    assert.notEqual(named.version(summary({ lastRefresh: '2026-12-07T01:00:00.456000000Z' })), base);
    assert.notEqual(named.version(summary({ accessTokenExpiresAt: '2026-12-07T02:00:01.000Z' })), base);
    assert.equal(named.version(chatgpt({ accounts: [] })), 'gone');
    assert.equal(named.version({ ...summary(), lastRefresh: '2026-12-07T01:30:00.000000000Z' }), base, "the active account's refresh is not this account's");
  });
});
