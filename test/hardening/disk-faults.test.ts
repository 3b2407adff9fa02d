// The disk misbehaves: CODEX_HOME fills up in the middle of a write, or is read-only, or shares
// a full disk with the log file. A small tmpfs stands in for the disk (root only; skipped with the
// reason otherwise). The old auth.json stays byte-for-byte intact, the error reaches the client,
// the daemon keeps serving (a read-only home from the start too, with refreshes held in memory),
// and once there is space again the next write succeeds.
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, symlinkSync, unlinkSync, watch, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { ErrorCodes } from '../../client/index.js';
import { hasAuth, readAuth, waitFor, type Sandbox } from '../helpers.js';
import { fixture, writeAtomically } from '../refresh-support.js';
import { bindReadOnly, mountTmpfs, suite, umount } from './support.js';

const s = suite('disk faults');

/** Mounts a small tmpfs at `dir`; skips the test (with why) when it cannot. */
function tmpfs(t: TestContext, dir: string, size: string): boolean {
  const why = mountTmpfs(dir, size);
  if (why) {
    s.skip(`${t.name}: ${why}`);
    t.skip(why);
    return false;
  }
  t.after(() => umount(dir));
  return true;
}

/** Mounts a small tmpfs as the sandbox's CODEX_HOME. */
function tmpfsHome(t: TestContext, box: Sandbox, size = '512k'): boolean {
  return tmpfs(t, box.codexHome, size);
}

/**
 * Puts CODEX_HOME and the state folder (the log file) on one small tmpfs, as `~/.codex` and
 * `~/.local/state` usually share a disk; with few inodes, so that it can be filled up entirely.
 */
function sharedDisk(t: TestContext, box: Sandbox): string | null {
  const disk = join(box.dir, 'disk');
  if (!tmpfs(t, disk, '1m,nr_inodes=64')) return null;
  for (const [name, link] of [['home', box.codexHome], ['state', join(box.dir, 'state')]] as const) {
    mkdirSync(join(disk, name), { mode: 0o700 });
    symlinkSync(join(disk, name), link);
  }
  return disk;
}

/** Takes every inode left under `dir` (after `fill`, nothing more can be created there). */
function fillInodes(dir: string): void {
  for (let i = 0; ; i++) {
    try {
      writeFileSync(join(dir, `inode-${i}`), '');
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
      return;
    }
  }
}

/** Makes CODEX_HOME read-only (a read-only bind mount on itself); skips the test (with why) when it cannot. */
function readOnly(t: TestContext, box: Sandbox): boolean {
  const why = bindReadOnly(box.codexHome);
  if (why) {
    s.skip(`${t.name}: ${why}`);
    t.skip(why);
    return false;
  }
  t.after(() => umount(box.codexHome));
  return true;
}

/**
 * Fills the file system under `dir` to the last byte, including what is left in the last page of
 * each file of `tails` (appending blank lines to it); returns the filler's path.
 */
function fill(dir: string, tails: string[] = []): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(4096, 0x61);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  closeSync(fd);
  // Then the last partial pages, byte by byte.
  for (const file of [path, ...tails]) {
    const tail = openSync(file, 'a');
    try {
      for (;;) writeSync(tail, '\n');
    } catch {
      // full
    } finally {
      closeSync(tail);
    }
  }
  return path;
}

/** Resolves once `count` writes of auth.json (each a new temp file `.auth-*`) were attempted in `dir`. */
function writeAttempts(dir: string, count: number): Promise<void> {
  const seen = new Set<string>();
  return new Promise((resolve) => {
    const watcher = watch(dir, (_event, name) => {
      if (name?.startsWith('.auth-')) seen.add(name);
      if (seen.size < count) return;
      watcher.close();
      resolve();
    });
  });
}

function strayFiles(codexHome: string): string[] {
  return readdirSync(codexHome).filter((name) => name.startsWith('.auth-'));
}

const API_KEY_1 = 'sk-disk-full-first-0123456789abcdef';
const API_KEY_2 = 'sk-disk-full-second-0123456789abcdef';
s.secret('API key (disk tests)', API_KEY_1);
s.secret('API key (disk tests)', API_KEY_2);

describe('a full disk', () => {
  it('during a login write: the old auth.json is intact, the error is reported, and the next write after space returns succeeds', async (t) => {
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url });
    if (!tmpfsHome(t, box)) return;
    const old = fixture(issuer.mintTokens(), issuer.account);
    writeAtomically(box.codexHome, old.raw);
    const daemon = await s.daemon(box);
    const { client: c, updates } = await s.watcher(box);
    assert.equal((await c.read()).account?.type, 'chatgpt');

    const filler = fill(box.codexHome);
    const error = await s.rpcError(c.loginStart({ type: 'apiKey', apiKey: API_KEY_1 }));
    assert.equal(error.code, ErrorCodes.storageFailed);
    assert.match(error.message, /Could not save auth\.json: .*ENOSPC/);
    assert.equal(readAuth(box), old.raw, 'the old auth.json is intact');
    assert.deepEqual(strayFiles(box.codexHome), [], 'the failed temp file is removed');
    const status = await c.read();
    assert.equal(status.account?.type, 'chatgpt', 'the daemon still holds the old login');
    assert.equal(status.state, 'ok');
    assert.equal(daemon.proc.exitCode, null);

    unlinkSync(filler);
    assert.deepEqual(await c.loginStart({ type: 'apiKey', apiKey: API_KEY_2 }), { type: 'apiKey' });
    const saved = JSON.parse(readAuth(box)) as { auth_mode: string; OPENAI_API_KEY: string };
    assert.deepEqual([saved.auth_mode, saved.OPENAI_API_KEY], ['apikey', API_KEY_2]);
    await updates.next((u) => u.account?.type === 'apiKey');
  });

  it('while a corrupt auth.json is kept aside: nothing half-copied is left, the corrupt file stays, and the retry keeps a complete copy', async (t) => {
    const box = s.box();
    if (!tmpfsHome(t, box)) return;
    // Big enough that the copy cannot fit in what is left.
    const corrupt = `{"auth_mode": "chatgpt", "tokens": {"id_token": "${'x'.repeat(40_000)}`;
    writeAtomically(box.codexHome, corrupt);
    const daemon = await s.daemon(box);
    const c = await s.client(box);
    const filler = fill(box.codexHome);
    const error = await s.rpcError(c.loginStart({ type: 'apiKey', apiKey: API_KEY_1 }));
    assert.equal(error.code, ErrorCodes.storageFailed);
    assert.match(error.message, /ENOSPC/);
    assert.equal(readAuth(box), corrupt, 'the corrupt file is not lost');
    const asides = readdirSync(box.codexHome).filter((name) => name.startsWith('auth.json.corrupt-'));
    for (const name of asides) {
      assert.equal(readFileSync(join(box.codexHome, name), 'utf8'), corrupt, `${name} is a complete copy, not a truncated one`);
    }
    assert.deepEqual(strayFiles(box.codexHome), []);
    assert.equal(daemon.proc.exitCode, null);

    unlinkSync(filler);
    await c.loginStart({ type: 'apiKey', apiKey: API_KEY_2 });
    const kept = readdirSync(box.codexHome).filter((name) => name.startsWith('auth.json.corrupt-'));
    assert.equal(kept.length, 1, `exactly one copy kept aside: ${kept.join(', ')}`);
    assert.equal(readFileSync(join(box.codexHome, kept[0]!), 'utf8'), corrupt);
  });

  it(
    'during a refresh write: the old auth.json is intact, the error is reported, and the rotated tokens are not lost (the next write after space returns succeeds)',
    async (t) => {
      const issuer = await s.issuer();
      const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_REFRESH_BACKOFF_BASE_MS: '100', CODEXD_REFRESH_BACKOFF_MAX_MS: '200' });
      if (!tmpfsHome(t, box)) return;
      const old = fixture(issuer.mintTokens({ accessExpiresInS: 3600 }), issuer.account);
      writeAtomically(box.codexHome, old.raw);
      const daemon = await s.daemon(box);
      const { client: c } = await s.watcher(box);
      await c.read();
      const filler = fill(box.codexHome);

      const served = await c.token({ forceRefresh: true });
      assert.equal(served.type, 'chatgpt');
      await waitFor(() => issuer.count('/oauth/token', 'refresh_token') >= 1, 'the refresh request');
      assert.equal(readAuth(box), old.raw, 'the old auth.json is intact');
      assert.deepEqual(strayFiles(box.codexHome), []);
      assert.match(readFileSync(box.logFile, 'utf8'), /ENOSPC/, 'the failed write is reported');
      assert.equal(daemon.proc.exitCode, null);

      unlinkSync(filler);
      const after = await c.token({ forceRefresh: true });
      assert.equal(after.type, 'chatgpt');
      // A forced refresh keeps the backoff: the held tokens are written when it ends.
      const accessOnDisk = (): string => (JSON.parse(readAuth(box)) as { tokens: { access_token: string } }).tokens.access_token;
      await waitFor(() => accessOnDisk() !== old.tokens.access_token, 'the refreshed tokens to reach the disk once there is space');
      // The file lands a moment before the retry that wrote it ends ('refreshing' until then).
      await waitFor(async () => (await c.read()).state !== 'refreshing', 'the refresh to end');
      const status = await c.read();
      assert.equal(status.state, 'ok', `the login survives the full disk: ${status.reauthReason}`);
    },
  );
});

describe('CODEX_HOME and the log file on one full disk', () => {
  it(
    'a refresh while it is full: the daemon survives, serves the rotated tokens, saves them once there is space (a restart is still logged in) and reports the log lines it dropped; a restart while it is full logs to stderr and serves',
    async (t) => {
      const issuer = await s.issuer();
      const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_REFRESH_BACKOFF_BASE_MS: '100', CODEXD_REFRESH_BACKOFF_MAX_MS: '200' });
      const disk = sharedDisk(t, box);
      if (!disk) return;
      t.after(() => s.capture(`daemon log on the shared disk of ${box.dir}`, existsSync(box.logFile) ? readFileSync(box.logFile, 'utf8') : ''));
      const old = fixture(issuer.mintTokens({ accessExpiresInS: 3600 }), issuer.account);
      writeAtomically(box.codexHome, old.raw);
      const first = await s.daemon(box);
      const c = await s.client(box);
      assert.equal((await c.read()).state, 'ok');

      let filler = fill(disk, [box.logFile]);
      const attempts = writeAttempts(box.codexHome, 4);
      const served = await c.token({ forceRefresh: true });
      assert.equal(issuer.count('/oauth/token', 'refresh_token'), 1, 'the issuer rotated the tokens');
      assert.ok(served.type === 'chatgpt' && served.accessToken !== old.tokens.access_token, 'the rotated access token is served');
      // The daemon retries the write (and logs each failure) while the disk stays full.
      await Promise.race([attempts, first.exited.then(() => assert.fail(`the daemon died of log lines it could not write: ${first.stderr()}`))]);
      assert.deepEqual(await c.token(), served, 'and keeps serving it');
      assert.equal(readAuth(box), old.raw, 'nothing could be written yet');

      unlinkSync(filler);
      await waitFor(() => !readAuth(box).includes(old.tokens.refresh_token), 'the rotated tokens saved once there is space', 15_000);
      await waitFor(() => /dropped \d+ log lines? that could not be written \(ENOSPC\)/.test(readFileSync(box.logFile, 'utf8')), 'the dropped log lines reported once there is space');
      // The file lands a moment before the retry that wrote it ends ('refreshing' until then).
      await waitFor(async () => (await c.read()).state === 'ok', 'the state back to ok');
      await c.close();
      assert.equal(await first.stop(), 0);

      // Full again, down to the last inode, and the log file gone: the restart logs to stderr.
      unlinkSync(box.logFile);
      filler = fill(disk);
      fillInodes(disk);
      const second = await s.daemon(box);
      const c2 = await s.client(box);
      const status = await c2.read();
      assert.equal(status.state, 'ok', `a restart on the full disk serves the saved login: ${status.reauthReason}`);
      assert.match(second.stderr(), /cannot write the log file .*ENOSPC.*; logging to stderr/);
      assert.match(second.stderr(), /codexd is ready/);
      assert.equal(existsSync(box.logFile), false);

      for (const name of readdirSync(disk).filter((n) => n.startsWith('inode-'))) unlinkSync(join(disk, name));
      unlinkSync(filler);
      const refreshed = await c2.token({ forceRefresh: true });
      assert.ok(refreshed.type === 'chatgpt' && refreshed.accessToken !== served.accessToken);
      const after = await c2.read();
      assert.equal(after.state, 'ok', `the saved refresh token was the live one (no refresh_token_reused): ${after.reauthReason}`);
      await c2.close();
      await second.stop();
    },
  );
});

describe('a read-only CODEX_HOME', () => {
  it('at start: codexd serves it read-only; the token is served and a login gets one clear error', async (t) => {
    const box = s.box();
    writeAtomically(box.codexHome, JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: API_KEY_1 }, null, 2));
    if (!readOnly(t, box)) return;
    const daemon = await s.daemon(box);
    const c = await s.client(box);
    assert.deepEqual(await c.token(), { type: 'apiKey', apiKey: API_KEY_1 });
    const error = await s.rpcError(c.loginStart({ type: 'apiKey', apiKey: API_KEY_2 }));
    assert.equal(error.code, ErrorCodes.loginFailed);
    assert.ok(error.message.includes(box.codexHome), error.message);
    assert.match(error.message, /is read-only \(EROFS\)/);
    assert.match(readFileSync(box.logFile, 'utf8'), /codexd serves it read-only/);
    assert.equal(daemon.proc.exitCode, null);
  });

  it('while running: a login gets a clear error, a refresh is held in memory, a logout revokes nothing, and writes work again once it is writable', async (t) => {
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_REFRESH_BACKOFF_BASE_MS: '100', CODEXD_REFRESH_BACKOFF_MAX_MS: '200' });
    const old = fixture(issuer.mintTokens(), issuer.account);
    writeAtomically(box.codexHome, old.raw);
    const daemon = await s.daemon(box);
    const c = await s.client(box);
    await c.read();
    if (!readOnly(t, box)) return;

    const error = await s.rpcError(c.loginStart({ type: 'apiKey', apiKey: API_KEY_1 }));
    assert.equal(error.code, ErrorCodes.loginFailed);
    assert.match(error.message, /is read-only \(EROFS\)/);
    const token = await c.token();
    assert.equal(token.type === 'chatgpt' && token.accessToken, old.tokens.access_token, 'the held token is still served');
    // Nobody can write a read-only disk, so the refresh goes ahead and its result is served from memory.
    const forced = await c.token({ forceRefresh: true });
    const rotated = forced.type === 'chatgpt' ? forced.accessToken : '';
    assert.notEqual(rotated, old.tokens.access_token, 'the refreshed token is served');
    assert.equal(issuer.count('/oauth/token', 'refresh_token'), 1);
    assert.match(readFileSync(box.logFile, 'utf8'), /could not be saved .*(read-only file system|EROFS)/i);
    assert.equal(readAuth(box), old.raw);
    assert.equal(daemon.proc.exitCode, null);

    umount(box.codexHome);
    const saved = await c.token({ forceRefresh: true });
    assert.equal(saved.type === 'chatgpt' && saved.accessToken, rotated, 'once writable, the held tokens are saved, not refreshed again');
    // A forced refresh keeps the backoff: the held tokens are written when it ends.
    await waitFor(() => readAuth(box).includes(rotated), 'the held tokens to be saved once CODEX_HOME is writable');
    assert.equal(issuer.count('/oauth/token', 'refresh_token'), 1, 'saved, not refreshed again');

    if (!readOnly(t, box)) return;
    const logout = await s.rpcError(c.logout());
    assert.match(logout.message, /^Cannot log out: CODEX_HOME .* is read-only \(EROFS\)/);
    assert.equal(issuer.count('/oauth/revoke'), 0, 'nothing is revoked when the file cannot be removed');
    assert.equal((await c.read()).account?.type, 'chatgpt');
    assert.equal(daemon.proc.exitCode, null);

    umount(box.codexHome);
    assert.deepEqual(await c.loginStart({ type: 'apiKey', apiKey: API_KEY_2 }), { type: 'apiKey' });
    assert.equal(hasAuth(box), true);
  });
});
