// Clock skew: an access token whose `exp` is already in the past when it arrives (the issuer's
// clock behind ours, or ours ahead of it) is refreshed once, not in a loop, and the login stays
// usable; an explicit forced refresh is still one request, not the start of a loop.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readLog, sleep, waitFor } from '../helpers.js';
import { fixture, libfaketime, writeAtomically } from '../refresh-support.js';
import { suite } from './support.js';

const s = suite('clock skew');

const refreshes = (issuer: { count(path: string, grant?: string): number }): number => issuer.count('/oauth/token', 'refresh_token');

describe('clock skew', () => {
  it('the issuer hands out tokens already expired by our clock: one refresh, then none for several ticks, however often a token is asked for', async () => {
    const issuer = await s.issuer();
    issuer.accessTokenTtlS = -600; // the issuer's clock is 10 minutes behind ours
    const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_TICK_S: '1' });
    const old = fixture(issuer.mintTokens({ accessExpiresInS: -60 }), issuer.account);
    writeAtomically(box.codexHome, old.raw);
    await s.daemon(box);
    await waitFor(() => refreshes(issuer) >= 1, 'the refresh of the expired token');
    const c = await s.client(box);
    const deadline = Date.now() + 3500; // three ticks and more
    let calls = 0;
    while (Date.now() < deadline) {
      const token = await c.token();
      assert.ok(token.type === 'chatgpt' && token.accessToken !== old.tokens.access_token, 'the token the issuer gave is served');
      calls++;
      await sleep(50);
    }
    assert.equal(refreshes(issuer), 1, `one refresh in ${calls} token calls and 3 ticks, not a loop`);
    assert.match(readLog(box), /already expired by our clock/, 'the skew is logged');
    const status = await c.read();
    assert.equal(status.state, 'ok');

    const held = await c.token();
    const forced = await c.token({ forceRefresh: true });
    // Within 10 s of the last grant a forced refresh gets that grant's token (docs/protocol.md,
    // "Forced refreshes"); later, one more grant. How long the loop above took decides which.
    const spent = forced.type === 'chatgpt' && held.type === 'chatgpt' && forced.accessToken === held.accessToken ? 1 : 2;
    await sleep(1500);
    assert.equal(refreshes(issuer), spent, 'a forced refresh is at most one more request');
  });

  it("codexd's own clock is two hours ahead (libfaketime): the first refresh brings a token that still looks expired, and it is not refreshed again", async (t) => {
    let preload: string;
    try {
      preload = libfaketime();
    } catch (error) {
      s.skip(`${t.name}: ${(error as Error).message}`);
      t.skip((error as Error).message);
      return;
    }
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_TICK_S: '1' });
    const clockFile = join(box.dir, 'faketime');
    writeFileSync(clockFile, '+2h');
    assert.ok(existsSync(preload));
    writeAtomically(box.codexHome, fixture(issuer.mintTokens({ accessExpiresInS: 3600 }), issuer.account).raw);
    await s.daemon(box, { env: { LD_PRELOAD: preload, FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_NO_CACHE: '1', FAKETIME_TIMESTAMP_FILE: clockFile } });
    await waitFor(() => refreshes(issuer) >= 1, 'the refresh of the token that looks expired');
    await sleep(3500);
    assert.equal(refreshes(issuer), 1, 'one refresh, no loop');
    const c = await s.client(box);
    for (let i = 0; i < 20; i++) assert.equal((await c.token()).type, 'chatgpt');
    assert.equal(refreshes(issuer), 1, 'token calls do not restart it');
  });
});
