// One daemon per CODEX_HOME whatever the runtime folder (issue 19 item 6): cron, su and ssh start
// clients with another XDG_RUNTIME_DIR, or none, and each would autostart a daemon of its own on
// the same home. The lock that lives with the home ($CODEX_HOME/codexd/daemon.lock) keeps the
// second out, on a read-only home too once the home has held one; and each inactive account's
// writes take an flock of their own, so no other process spends the same refresh token.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { accountKey } from '../daemon/accounts/identity.js';
import { parse, type AuthRecord } from '../daemon/auth/store.js';
import { bindReadOnly, umount } from './hardening/support.js';
import { canConnect, cli, waitFor } from './helpers.js';
import { OTHER_ACCOUNT, codexAuthJson, holdLock, refreshRequests, rotateOutside, scene, type Scene } from './refresh-support.js';

/** The environment of a client started from another session: its own runtime folder, so its own default socket. */
function otherSession(s: Scene, name: string): NodeJS.ProcessEnv {
  const run = join(s.box.dir, name);
  mkdirSync(run, { mode: 0o700 });
  return { XDG_RUNTIME_DIR: run, CODEXD_SOCKET: join(run, 'codexd', 'codexd.sock') };
}

/** Starts a second daemon with `env` and returns its one line of refusal. */
async function refusedSecond(s: Scene, env: NodeJS.ProcessEnv): Promise<string> {
  const second = await s.start({ env, waitReady: false });
  let exit: number | null | undefined;
  void second.exited.then(({ code }) => (exit = code));
  const outcome = await waitFor(async () => (exit !== undefined ? 'exited' : (await canConnect(env['CODEXD_SOCKET']!)) ? 'serving' : null), 'the second daemon to exit or serve');
  assert.equal(outcome, 'exited', 'the second daemon must not serve the same CODEX_HOME');
  assert.equal(exit, 1, second.stderr());
  return second.stderr().trim();
}

describe('one daemon per CODEX_HOME, whatever the runtime folder', () => {
  it('a second daemon with another XDG_RUNTIME_DIR is refused, naming the first and how to reach it; it starts once the first is gone', async (t) => {
    const s = await scene(t);
    s.writeFixture();
    const first = await s.start();
    assert.equal(
      await refusedSecond(s, otherSession(s, 'cron-run')),
      `codexd: another codexd already manages ${s.box.codexHome} (pid ${first.pid}, socket ${s.box.socket}); to use it, pass --socket ${s.box.socket} or set CODEXD_SOCKET=${s.box.socket}`,
    );
    // The autostart of a client from that other session says the same in one line.
    const env = otherSession(s, 'ssh-run');
    const status = await cli(s.box, ['status'], { env });
    assert.equal(status.code, 2, status.stdout + status.stderr);
    assert.match(status.stderr.trim(), new RegExp(`^codex-auth: codexd could not start: another codexd already manages ${s.box.codexHome} \\(pid ${first.pid}, `));
    assert.equal(status.stderr.trim().split('\n').length, 1, status.stderr);

    await first.stop();
    const later = await s.start({ env: otherSession(s, 'later-run') });
    await later.stop();
  });

  it('on a read-only CODEX_HOME that has held the lock, a second daemon with another runtime folder is refused too', async (t) => {
    const s = await scene(t);
    s.writeFixture();
    await (await s.start()).stop(); // leaves $CODEX_HOME/codexd/daemon.lock behind, as any start does
    const why = bindReadOnly(s.box.codexHome);
    if (why) return t.skip(why);
    try {
      await s.start();
      // The lock file still names the daemon that wrote it, which is gone: nothing it says is repeated.
      assert.equal(await refusedSecond(s, otherSession(s, 'su-run')), `codexd: another codexd already manages ${s.box.codexHome} (pid unknown, socket unknown)`);
    } finally {
      umount(s.box.codexHome);
    }
  });

  it("an inactive account's refresh waits for another process's flock on that account, then adopts what it wrote instead of spending the spent token", async (t) => {
    const s = await scene(t);
    s.writeFixture(); // the active account
    // An inactive account whose access token is due: the daemon refreshes it as soon as it starts.
    const due = s.issuer.mintTokens({ accessExpiresInS: 60, account: OTHER_ACCOUNT });
    const raw = codexAuthJson(due, OTHER_ACCOUNT.accountId, '2025-06-01T08:00:00.000000Z');
    const key = accountKey(parse(raw) as AuthRecord);
    const accountFile = join(s.box.codexHome, 'codexd', 'accounts', `${key}.json`);
    mkdirSync(dirname(accountFile), { recursive: true, mode: 0o700 });
    writeFileSync(accountFile, raw, { mode: 0o600 });
    const lockFile = join(s.box.codexHome, 'codexd', 'locks', `${key}.lock`);
    mkdirSync(dirname(lockFile), { mode: 0o700 });
    const held = await holdLock(lockFile); // another process, in the middle of its own refresh of that account
    t.after(() => held.release());

    const daemon = await s.start();
    // Either the daemon waits for the lock (a descriptor of its own is open on the lock file), or
    // it did not wait and has refreshed already.
    await waitFor(() => refreshRequests(s.issuer).length > 0 || holdsOpen(daemon.pid, lockFile), 'the daemon to refresh the due account or wait for its lock');
    assert.equal(refreshRequests(s.issuer).length, 0, 'no refresh while another process holds the account lock');
    const rotated = await rotateOutside(s.issuer, due.refresh_token);
    writeFileSync(accountFile, codexAuthJson(rotated, OTHER_ACCOUNT.accountId, '2026-01-01T00:00:00.000000Z'));
    await held.release();

    const token = await cli(s.box, ['token', '--account', OTHER_ACCOUNT.email]);
    assert.equal(token.code, 0, token.stderr + s.log());
    assert.equal(token.stdout.trim(), rotated.access_token, 'the tokens the other process wrote');
    assert.equal(refreshRequests(s.issuer).length, 1, 'one grant: the other process spent the refresh token once, codexd none');
  });
});

/** Whether process `pid` has `file` open. */
function holdsOpen(pid: number, file: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}
