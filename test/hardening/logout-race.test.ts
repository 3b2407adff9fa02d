// Logging out while a refresh is at the issuer. The refresh is spending the refresh token on
// disk, and the issuer is about to hand back a rotated one: the logout must wait for it, revoke
// the rotated token (not the spent one), and no access token may be handed out once the logout
// has begun.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../../client/index.js';
import type { TokenSet } from '../../support/fake-issuer.js';
import { fixture, startProxy, writeAtomically } from '../refresh-support.js';
import { suite } from './support.js';
import { hasAuth, waitFor } from '../helpers.js';

const s = suite('logout during a refresh');

describe('logout during a refresh', () => {
  it('the logout waits for the refresh, revokes the rotated refresh token, and no token is served after it began', async (t) => {
    const issuer = await s.issuer();
    const proxy = await startProxy(issuer.url);
    t.after(() => proxy.close());
    proxy.delayMs = (path) => (path === '/oauth/token' ? 1500 : 0);
    const box = s.box({ CODEXD_ISSUER: proxy.url });
    const old = fixture(issuer.mintTokens(), issuer.account);
    writeAtomically(box.codexHome, old.raw);
    await s.daemon(box);
    const c = await s.client(box);

    const forced = c.token({ forceRefresh: true }).then((value) => ({ value }), (error: unknown) => ({ error }));
    await waitFor(() => proxy.pending === 1, 'the refresh request to be held at the issuer');
    const loggedOut = c.logout();
    const during = s.rpcError(c.token());
    assert.deepEqual(await loggedOut, {});
    const after = await s.rpcError(c.token());

    const reply = proxy.replies.find((r) => r.path === '/oauth/token');
    assert.ok(reply && reply.status === 200, 'the refresh itself succeeded at the issuer');
    const rotated = (JSON.parse(reply.body) as TokenSet).refresh_token;
    assert.deepEqual(
      issuer.revoked.map((r) => r.token === rotated ? 'the rotated refresh token' : r.token === old.tokens.refresh_token ? 'the spent refresh token' : 'another token'),
      ['the rotated refresh token'],
      "the issuer's record of revocations",
    );
    const outcome = await forced;
    assert.ok('error' in outcome, `the forced token call pending when the logout began got no token: ${JSON.stringify(outcome)}`);
    for (const error of [await during, after]) assert.equal(error.code, ErrorCodes.notLoggedIn);
    assert.equal(hasAuth(box), false, 'auth.json is gone');
    assert.equal((await c.read()).state, 'loggedOut');
  });
});
