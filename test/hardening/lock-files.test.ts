// Lock files planted as symbolic links. codexd opens its own lock, auth.lock and auth.json.lock
// with O_NOFOLLOW: a link there makes the daemon refuse to start, or the write fail, with one line
// naming the lock file, and the link's target is never created, truncated or written.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { daemonLockPath } from '../../shared/paths.js';
import { cli, hasAuth } from '../helpers.js';
import { suite } from './support.js';

const s = suite('lock files (symlinks)');

const API_KEY = 'sk-lock-symlink-0123456789abcdef';
s.secret('API key (lock files)', API_KEY);
const PRECIOUS = 'precious contents that must survive\n';

describe('a lock file that is a symbolic link', () => {
  it('the daemon lock (codexd-<key>.lock): the daemon refuses to start with one line, and the target keeps its contents', { timeout: 30_000 }, async () => {
    const box = s.box();
    mkdirSync(box.codexHome, { recursive: true, mode: 0o700 });
    const victim = join(box.dir, 'victim.txt');
    writeFileSync(victim, PRECIOUS, { mode: 0o600 });
    const lockFile = daemonLockPath(box.codexHome, box.env);
    mkdirSync(dirname(lockFile), { recursive: true, mode: 0o700 });
    symlinkSync(victim, lockFile);
    const daemon = await s.daemon(box, { waitReady: false });
    const { code } = await daemon.exited;
    assert.equal(code, 1);
    const stderr = daemon.stderr().trim();
    assert.equal(stderr.split('\n').length, 1, `one line: ${stderr}`);
    assert.ok(stderr.includes(lockFile) && /symbolic link/.test(stderr), stderr);
    assert.equal(readFileSync(victim, 'utf8'), PRECIOUS);
  });

  for (const name of ['auth.lock', 'auth.json.lock']) {
    it(`${name}: a login fails with one line naming it, nothing is written, and the target is untouched`, async () => {
      const box = s.box();
      mkdirSync(box.codexHome, { recursive: true, mode: 0o700 });
      const existing = join(box.dir, 'victim.txt');
      writeFileSync(existing, PRECIOUS, { mode: 0o600 });
      const dangling = join(box.dir, 'created-through-the-link');
      const lockFile = join(box.codexHome, name);
      symlinkSync(name === 'auth.lock' ? dangling : existing, lockFile);
      await s.daemon(box);
      const run = await cli(box, ['login', '--with-api-key'], { input: API_KEY });
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`);
      assert.ok(run.stderr.includes(lockFile) && /symbolic link/.test(run.stderr), run.stderr);
      assert.equal(hasAuth(box), false);
      assert.equal(existsSync(dangling), false, 'the dangling target was not created');
      assert.equal(readFileSync(existing, 'utf8'), PRECIOUS);
    });
  }
});
