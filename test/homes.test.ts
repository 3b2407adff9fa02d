// One daemon per CODEX_HOME: the default socket follows the home, and a client pointed at a
// daemon that serves another home, issuer or client id is told so (exit 2) before it sends anything.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, hasAuth, sandbox, startDaemon, type Sandbox } from './helpers.js';

const boxes: Sandbox[] = [];
function box(): Sandbox {
  const b = sandbox();
  boxes.push(b);
  return b;
}
/** Daemons started by autostart for homes other than the sandbox's own: stopped through their socket. */
const started: Array<{ b: Sandbox; env: NodeJS.ProcessEnv }> = [];
after(async () => {
  for (const { b, env } of started) await cli(b, ['daemon', 'stop'], { env });
  boxes.forEach((b) => b.cleanup());
});

interface StatusJson {
  daemon: { pid: number; socket: string; codexHome: string };
}

/** `codex-auth status --json` with the socket left to its default, as a user who set only CODEX_HOME. */
async function statusFor(b: Sandbox, codexHome: string | undefined): Promise<StatusJson['daemon']> {
  const env = { CODEXD_SOCKET: '', CODEX_HOME: codexHome ?? '' };
  started.push({ b, env });
  const result = await cli(b, ['status', '--json'], { env });
  assert.equal(result.code, 1, `logged out: ${result.stderr}`);
  return (JSON.parse(result.stdout) as StatusJson).daemon;
}

describe('the default socket follows CODEX_HOME', () => {
  it('each home gets its own daemon on codexd-<key>.sock; the default home (by its canonical path) keeps codexd.sock', async () => {
    const b = box();
    const folder = join(b.dir, 'run', 'codexd');
    const work = join(b.dir, 'work');
    const other = join(b.dir, 'other');

    const forWork = await statusFor(b, work);
    const key = createHash('sha256').update(realpathSync(work)).digest('hex').slice(0, 16);
    assert.equal(forWork.socket, join(folder, `codexd-${key}.sock`));
    assert.equal(forWork.codexHome, work);
    assert.equal((await statusFor(b, work)).pid, forWork.pid, 'the same home finds the same daemon again');

    const forOther = await statusFor(b, other);
    assert.notEqual(forOther.pid, forWork.pid);
    assert.notEqual(forOther.socket, forWork.socket);
    assert.equal(forOther.codexHome, other);

    const defaultHome = join(b.env['HOME']!, '.codex');
    mkdirSync(defaultHome, { recursive: true });
    const forDefault = await statusFor(b, undefined);
    assert.equal(forDefault.socket, join(folder, 'codexd.sock'));
    assert.equal(forDefault.codexHome, defaultHome);
    const alias = join(b.dir, 'alias');
    symlinkSync(defaultHome, alias);
    assert.equal((await statusFor(b, alias)).pid, forDefault.pid, 'a path to ~/.codex through a symlink is the default home');
  });
});

describe('a client at an explicit socket whose daemon serves something else', () => {
  it('is told which home, issuer or client id that daemon serves and how to fix it, with exit status 2', async () => {
    const b = box();
    await startDaemon(b);
    const other = join(b.dir, 'other-home');
    const cases: Array<{ env: NodeJS.ProcessEnv; says: RegExp }> = [
      { env: { CODEX_HOME: other }, says: new RegExp(`serves CODEX_HOME ${b.codexHome}, but yours is ${other}; set CODEX_HOME=${b.codexHome} to use it, or drop --socket and CODEXD_SOCKET`) },
      { env: { CODEXD_ISSUER: 'http://127.0.0.1:9/' }, says: /uses the issuer https:\/\/auth\.openai\.com, but yours is http:\/\/127\.0\.0\.1:9; set CODEXD_ISSUER=https:\/\/auth\.openai\.com to use it/ },
      { env: { CODEXD_CLIENT_ID: 'app_other' }, says: /uses the client id app_EMoamEEZ73f0CkXaXp7hrann, but yours is app_other; set CODEXD_CLIENT_ID=app_EMoamEEZ73f0CkXaXp7hrann/ },
    ];
    for (const { env, says } of cases) {
      for (const args of [['status'], ['token'], ['login', '--with-api-key'], ['logout']]) {
        const result = await cli(b, args, { env, input: 'sk-never-sent-to-that-daemon-0123456789\n' });
        assert.equal(result.code, 2, `${args.join(' ')} ${JSON.stringify(env)}: ${result.stdout}${result.stderr}`);
        assert.equal(result.stdout, '');
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
        assert.match(result.stderr, says);
        assert.ok(result.stderr.includes(b.socket), 'names the socket');
      }
    }
    assert.equal(hasAuth(b), false, 'the key never reached the daemon');

    // Values the client does not set match any daemon: an editor without CODEX_HOME in its environment.
    const bare = await cli(b, ['status'], { env: { CODEX_HOME: '' } });
    assert.equal(bare.code, 1, bare.stderr);
    assert.match(bare.stdout, /Not logged in/);
    // Controlling the daemon is about the process: it works whatever the daemon serves.
    const daemon = await cli(b, ['daemon', 'status'], { env: { CODEX_HOME: other } });
    assert.equal(daemon.code, 0, daemon.stderr);
    assert.ok(daemon.stdout.includes(b.codexHome));
  });
});
