// A follower and a login made on its own machine (issue 19 item 7): a `codex login` there while it
// runs, or an API-key auth.json it finds at start. The follower never overwrites or removes such a
// login: at start it refuses to run, at run time it stops mirroring, says so in status and the
// log, and takes the mirror up again once that login is gone. An API-key mirror it wrote itself
// is its own to replace, across restarts too.
import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../client/index.js';
import { FOLLOWER_REFRESH_TOKEN } from '../shared/paths.js';
import { authPath, cli, hasAuth, readAuth, readLog, rpcError, sleep, startDaemon, waitFor } from './helpers.js';
import { codexAuthJson, codexTimestamp, readJson, writeAtomically } from './refresh-support.js';
import { followerScenes, sessionOf, type FollowerScene } from './upstream-support.js';

const world = followerScenes();

const API_KEY_FILE = (key: string): string => `{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "${key}"\n}`;

const accessTokenOf = (s: FollowerScene): string => (s.answer as { result: { accessToken: string } }).result.accessToken;
const mirrored = (s: FollowerScene, accessToken: string): Promise<boolean> =>
  waitFor(() => hasAuth(s.fo) && readJson(authPath(s.fo)).tokens?.access_token === accessToken, 'the follower to mirror the token');

describe('a follower that finds a login made on its own machine', () => {
  it('a `codex login` while it runs: stops mirroring, leaves it as it is through upstream changes and an upstream logout, says so, and follows again once it is gone', async () => {
    const s = await world.scene();
    const { daemon, c, updates } = await s.follow();
    await mirrored(s, accessTokenOf(s));

    // Codex logs in on this machine: a login with a real refresh token.
    writeAtomically(s.fo.codexHome, codexAuthJson(world.issuer.mintTokens({ account: { ...world.issuer.account, email: 'local@example.com' } }), world.issuer.account.accountId, codexTimestamp(Date.now())));
    const own = readAuth(s.fo);
    const stopped = await updates.next((u) => /stopped mirroring/.test(u.reauthReason ?? ''));
    assert.match(stopped.reauthReason!, /^this follower stopped mirroring the upstream codexd on \S+: \S+auth\.json holds a login made on this machine \(a ChatGPT login with a refresh token\), which it leaves as it is\. To use that login, stop this follower \(`codex-auth daemon stop`/);
    assert.match(readLog(s.fo), /this follower stopped mirroring/);
    const status = await cli(s.fo, ['status']);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /^Not logged in: this follower stopped mirroring .*codex logout/m);
    assert.doesNotMatch(status.stdout, /Run `codex-auth login` on the upstream machine/, 'one instruction, the one that fits');
    assert.equal((await rpcError(c.token())).code, ErrorCodes.notLoggedIn, 'the upstream\'s token is not served over a login of this machine');

    // The upstream changes, then logs out: the login made here stays, byte for byte.
    await s.change({ result: sessionOf(world.issuer) });
    await s.change({ error: { code: ErrorCodes.notLoggedIn, message: 'Not logged in.' } });
    await c.read(); // one round trip after the last sync
    assert.equal(readAuth(s.fo), own);
    assert.equal(daemon.proc.exitCode, null);

    // That login is logged out here (Codex removes auth.json): the follower follows again.
    unlinkSync(authPath(s.fo));
    await s.change({ result: sessionOf(world.issuer) });
    await mirrored(s, accessTokenOf(s));
    assert.equal(readJson(authPath(s.fo)).tokens.refresh_token, FOLLOWER_REFRESH_TOKEN);
    await waitFor(async () => (await c.read()).state === 'ok', 'the follower to serve the mirror again');
  });

  it('a local API-key login at start: refuses to start and leaves it as it is; one written while it runs stops the mirroring', async () => {
    const atStart = await world.scene();
    writeAtomically(atStart.fo.codexHome, API_KEY_FILE('sk-local-0123456789abcdef'));
    const refused = await startDaemon(atStart.fo, { env: { CODEXD_UPSTREAM: atStart.up.socket }, waitReady: false });
    const exit = await Promise.race([refused.exited, sleep(10_000).then(() => null)]);
    assert.equal(exit?.code, 1, `codexd refuses to start, at once: ${refused.stderr()}`);
    assert.equal(
      refused.stderr(),
      `codexd: ${authPath(atStart.fo)} holds a login of its own (an API-key login), which following ${atStart.up.socket} would overwrite; log it out first (codex-auth logout, without --upstream), or follow into another CODEX_HOME\n`,
    );
    assert.equal(readAuth(atStart.fo), API_KEY_FILE('sk-local-0123456789abcdef'));

    const s = await world.scene();
    const { updates } = await s.follow();
    await mirrored(s, accessTokenOf(s));
    writeAtomically(s.fo.codexHome, API_KEY_FILE('sk-local-0123456789abcdef'));
    await updates.next((u) => /\(an API-key login\), which it leaves as it is/.test(u.reauthReason ?? ''));
    await s.change({ result: sessionOf(world.issuer) });
    assert.equal(readAuth(s.fo), API_KEY_FILE('sk-local-0123456789abcdef'));
  });

  it('an API-key mirror it wrote is its own: replaced when the upstream changes, and taken as a mirror at its next start', async () => {
    const s = await world.scene();
    s.answer = { result: { authMode: 'apikey', apiKey: 'sk-upstream-first-0123456789' } };
    const first = await s.follow();
    await waitFor(() => hasAuth(s.fo) && readAuth(s.fo) === API_KEY_FILE('sk-upstream-first-0123456789'), 'the API-key mirror');
    await s.change({ result: { authMode: 'apikey', apiKey: 'sk-upstream-second-0123456789' } });
    await waitFor(() => readAuth(s.fo) === API_KEY_FILE('sk-upstream-second-0123456789'), 'the new key mirrored');
    await first.c.close();
    await first.daemon.stop();

    s.answer = { result: { authMode: 'apikey', apiKey: 'sk-upstream-third-0123456789' } };
    const again = await s.follow();
    await waitFor(() => readAuth(s.fo) === API_KEY_FILE('sk-upstream-third-0123456789'), 'the mirror replaced after a restart');
    assert.equal((await again.c.read()).state, 'ok');
  });
});
