// `codex-auth login` when things go wrong around it: a killed client, a login left pending,
// an issuer that is slow or unreachable, busy callback ports. Driven through the real binary.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cli, readLog } from './helpers.js';
import { browserStart, finishWorlds, pendingLoginId, portClosed, startCli, waitFor, world } from './login-support.js';

after(finishWorlds);

describe('a login left behind', () => {
  it('a killed `codex-auth login` cancels its login in the daemon and frees the callback port', async () => {
    const w = await world('killed login');
    const run = startCli(w.box, ['login', '--no-browser']);
    const loginId = await pendingLoginId(w);
    const authUrl = await waitFor(() => /^http\S+\/oauth\/authorize\?\S+$/m.exec(run.stdout())?.[0], 'the authorize URL to be printed', 20_000);
    w.shown.push(authUrl);
    const port = browserStart({ type: 'chatgpt', loginId, authUrl }).port;

    run.child.kill('SIGKILL');
    assert.equal(await run.exited, null, 'killed');
    const done = await w.completed.next((e) => e.loginId === loginId, 20_000);
    assert.deepEqual(done, { loginId, success: false, error: 'Login was cancelled because the client that started it disconnected' });
    assert.ok(await waitFor(() => portClosed(port), 'the callback port to be freed', 10_000));

    const status = await cli(w.box, ['status']);
    assert.equal(status.code, 1, 'not logged in');
    assert.doesNotMatch(status.stdout, /pending login/);
    assert.match(readLog(w.box), /the client that started the login disconnected; cancelling it/);
  });

  it('a login started with keepAfterDisconnect outlives its client; `codex-auth login --cancel` ends it, and says when nothing is pending', async () => {
    const w = await world('kept login');
    const starter = await w.connect();
    const login = browserStart(await starter.loginStart({ type: 'chatgpt', keepAfterDisconnect: true }));
    w.shown.push(login.authUrl);
    await starter.close();
    await waitFor(async () => (await w.watcher.daemonStatus()).connections === 1, 'the daemon to see the starter disconnect');
    assert.deepEqual((await w.watcher.read()).login, { loginId: login.loginId, type: 'chatgpt' }, 'still pending');

    const cancelled = await cli(w.box, ['login', '--cancel']);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(cancelled.stdout, 'Cancelled the pending browser login.\n');
    const done = await w.completed.next((e) => e.loginId === login.loginId, 20_000);
    assert.deepEqual(done, { loginId: login.loginId, success: false, error: 'Login was cancelled' });
    assert.ok(await waitFor(() => portClosed(login.port), 'the callback port to be freed', 10_000));

    const again = await cli(w.box, ['login', '--cancel']);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, 'No login is pending.\n');
    const misuse = await cli(w.box, ['login', '--cancel', '--device-auth']);
    assert.equal(misuse.code, 2);
    assert.equal(misuse.stderr, 'codex-auth: --cancel takes no other login option\n');
  });
});
