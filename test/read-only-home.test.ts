// A read-only CODEX_HOME is served read-only: the daemon starts (its lock lives in the runtime
// folder, keyed by the home), `codex-auth token` and `status` work, a due refresh is served from
// memory, and `login` and `logout` fail with one line saying why. One daemon per CODEX_HOME still
// holds across different sockets.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { daemonLockPath } from '../shared/paths.js';
import { bindReadOnly, umount } from './hardening/support.js';
import { cli } from './helpers.js';
import { scene } from './refresh-support.js';

describe('a read-only CODEX_HOME', () => {
  it('is served read-only: token and status work, a due refresh is served from memory, login and logout say why they cannot', async (t) => {
    const s = await scene(t);
    const old = s.writeFixture({ accessExpiresInS: 60 }); // inside the refresh margin: due now
    const why = bindReadOnly(s.box.codexHome);
    if (why) return t.skip(why);
    try {
      const token = await cli(s.box, ['token']); // autostarts the daemon
      assert.equal(token.code, 0, token.stderr);
      const served = token.stdout.trim();
      assert.notEqual(served, old.tokens.access_token, 'the refreshed token, held in memory');
      assert.equal(s.issuer.count('/oauth/token', 'refresh_token'), 1);
      assert.equal(readFileSync(s.authFile, 'utf8'), old.raw, 'auth.json is unchanged');
      const again = await cli(s.box, ['token']);
      assert.equal(again.stdout.trim(), served, 'served from memory without another refresh');
      assert.equal(s.issuer.count('/oauth/token', 'refresh_token'), 1);

      const status = await cli(s.box, ['status']);
      assert.equal(status.code, 0, status.stdout + status.stderr);
      assert.match(status.stdout, /Logged in/);

      for (const [args, verb] of [[['login', '--with-api-key'], 'log in'], [['logout'], 'log out']] as const) {
        const run = await cli(s.box, [...args], { input: 'sk-read-only-home-0123456789abcdef' });
        assert.equal(run.code, 1, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
        const line = run.stderr.trim();
        assert.equal(line.split('\n').length, 1, `one line: ${line}`);
        assert.ok(line.includes(`Cannot ${verb}: CODEX_HOME ${s.box.codexHome} is read-only (EROFS)`), line);
      }
      assert.equal(s.issuer.count('/oauth/revoke'), 0, 'the logout revoked nothing');
      assert.equal(readFileSync(s.authFile, 'utf8'), old.raw);
    } finally {
      umount(s.box.codexHome); // before the sandbox is removed
    }
  });

  it('one daemon per CODEX_HOME, whatever socket a second one is given', async (t) => {
    const s = await scene(t);
    const first = await s.start();
    const other = join(s.box.dir, 'run', 'other.sock');
    const second = await s.start({ env: { CODEXD_SOCKET: other }, waitReady: false });
    const { code } = await second.exited;
    assert.equal(code, 1);
    assert.equal(second.stderr().trim(), `codexd: another codexd already manages ${s.box.codexHome} (pid ${first.pid}, socket ${s.box.socket}); to use it, pass --socket ${s.box.socket} or set CODEXD_SOCKET=${s.box.socket}`);
    const lock = JSON.parse(readFileSync(daemonLockPath(s.box.codexHome, s.box.env), 'utf8')) as { pid: number };
    assert.equal(lock.pid, first.pid, 'the lock in the runtime folder names the running daemon');
  });
});
