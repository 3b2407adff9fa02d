// account/session: what a follower mirrors (issue 13). It is the held login, refreshed first when
// due, in the shape a follower turns back into auth.json; it never carries the refresh token.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../shared/protocol.js';
import { rpcError } from './helpers.js';
import { expMs, readJson, refreshRequests, scene } from './refresh-support.js';

describe('account/session', () => {
  it('gives the ChatGPT login without its refresh token, refreshing first when the token is due', async (t) => {
    const s = await scene(t);
    const old = s.writeFixture({ accessExpiresInS: 30 }); // inside the default margin: due now
    await s.start();
    const c = await s.client();
    const session = await c.session();
    assert.equal(refreshRequests(s.issuer).length, 1, 'refreshed before answering');
    const disk = readJson(s.authFile);
    assert.deepEqual(session, {
      authMode: 'chatgpt',
      accessToken: disk.tokens.access_token,
      idToken: disk.tokens.id_token,
      accountId: old.accountId,
      expiresAt: new Date(expMs(disk.tokens.access_token)).toISOString(),
      lastRefresh: disk.last_refresh,
    });
    assert.notEqual(session.authMode === 'chatgpt' && session.accessToken, old.tokens.access_token, 'the refreshed token, not the stale one');
    assert.ok(!JSON.stringify(session).includes(disk.tokens.refresh_token), 'no refresh token');
    assert.ok(!JSON.stringify(session).includes(old.tokens.refresh_token), 'not even the spent one');
  });

  it('gives an API key as {authMode: "apikey", apiKey}', async (t) => {
    const s = await scene(t);
    await s.start();
    const c = await s.client();
    await c.loginStart({ type: 'apiKey', apiKey: 'sk-session-test-0123456789' });
    assert.deepEqual(await c.session(), { authMode: 'apikey', apiKey: 'sk-session-test-0123456789' });
  });

  it('answers notLoggedIn when there is no login', async (t) => {
    const s = await scene(t);
    await s.start();
    const error = await rpcError((await s.client()).session());
    assert.equal(error.code, ErrorCodes.notLoggedIn);
  });
});
