// `codex-auth config`: the settings file edited through conf, each value checked against the
// settings table before it is written, and read back by both the CLI and the daemon.
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { cli, sandbox, type Sandbox } from './helpers.js';

function box(t: TestContext, env: NodeJS.ProcessEnv = {}): Sandbox {
  const b = sandbox(env);
  t.after(() => b.cleanup());
  return b;
}

const fileOf = (b: Sandbox): string => join(b.env['XDG_CONFIG_HOME']!, 'codexd', 'config.json');

describe('codex-auth config', () => {
  it('set, get, list and unset edit a private settings file that the CLI and the daemon both follow', async (t) => {
    // No CODEXD_SOCKET in the environment: the socket comes from the settings file.
    const b = box(t, { CODEXD_SOCKET: '' });
    const socket = join(b.dir, 'run', 'elsewhere', 'codexd.sock');
    const set = await cli(b, ['config', 'set', 'SOCKET', socket]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal((await cli(b, ['config', 'set', 'codexd_login_port', '0'])).code, 0, 'a key may be given as its variable, in any case');
    assert.equal(lstatSync(fileOf(b)).mode & 0o777, 0o600);
    assert.equal(lstatSync(dirname(fileOf(b))).mode & 0o777, 0o700);
    assert.deepEqual(JSON.parse(readFileSync(fileOf(b), 'utf8')), { SOCKET: socket, LOGIN_PORT: 0 }, 'an integer is stored as a JSON number');

    assert.deepEqual(await cli(b, ['config', 'get', 'LOGIN_PORT']).then((r) => [r.code, r.stdout]), [0, '0\n']);
    const list = await cli(b, ['config', 'list', '--json']);
    assert.deepEqual(JSON.parse(list.stdout), { SOCKET: socket, LOGIN_PORT: 0 });

    const started = await cli(b, ['daemon', 'status', '--json']);
    assert.equal(started.code, 1, 'no daemon yet');
    assert.equal(JSON.parse(started.stdout).socket, socket, 'the CLI looks for the daemon on the socket from the file');
    assert.equal((await cli(b, ['daemon', 'start'])).code, 0);
    assert.equal(JSON.parse((await cli(b, ['daemon', 'status', '--json'])).stdout).socket, socket, 'the daemon listens there too');
    assert.equal((await cli(b, ['daemon', 'stop'])).code, 0);

    assert.equal((await cli(b, ['config', 'unset', 'LOGIN_PORT'])).code, 0);
    const unset = await cli(b, ['config', 'get', 'LOGIN_PORT']);
    assert.equal(unset.code, 1);
    assert.equal(unset.stderr, `codex-auth: LOGIN_PORT is not set in ${fileOf(b)} (default: 1455)\n`);
  });

  it('a value out of range, an unknown key or a wrong call is one line, exit status 2, and the file is unchanged', async (t) => {
    const b = box(t);
    assert.equal((await cli(b, ['config', 'set', 'TICK_S', '60'])).code, 0);
    const before = readFileSync(fileOf(b), 'utf8');
    for (const [args, line] of [
      [['config', 'set', 'LOGIN_PORT', '70000'], 'codex-auth: LOGIN_PORT must be an integer from 0 to 65535, got "70000"'],
      [['config', 'set', 'LOG_LEVEL', 'loud'], 'codex-auth: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
      [['config', 'set', 'ISSUER', 'ftp://x'], 'codex-auth: ISSUER must be an http(s) URL, got "ftp://x"'],
      [['config', 'get', 'LOGIN_PROT'], /^codex-auth: unknown setting "LOGIN_PROT"; the settings are CODEX_HOME, SOCKET, .*LOGIN_PORT/],
      [['config', 'set', 'TICK_S'], /^codex-auth: usage: codex-auth config /],
      [['config'], /^codex-auth: usage: codex-auth config /],
    ] as const) {
      const result = await cli(b, [...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr.split('\n').length, 2, `one line: ${result.stderr}`);
      if (typeof line === 'string') assert.equal(result.stderr.trim(), line);
      else assert.match(result.stderr, line);
    }
    assert.equal(readFileSync(fileOf(b), 'utf8'), before);
  });

  it('a hand-edited value out of range is reported with its key and the file, by config and by every command', async (t) => {
    const b = box(t);
    mkdirSync(dirname(fileOf(b)), { recursive: true, mode: 0o700 });
    writeFileSync(fileOf(b), JSON.stringify({ REFRESH_MARGIN_S: 100_000 }), { mode: 0o600 });
    const listed = await cli(b, ['config', 'list']);
    assert.equal(listed.code, 2);
    assert.equal(listed.stderr, `codex-auth: REFRESH_MARGIN_S in ${fileOf(b)} must be an integer from 0 to 86400, got 100000\n`);
    const status = await cli(b, ['status']);
    assert.equal(status.code, 2);
    assert.match(status.stderr, /^codex-auth: codexd could not start: REFRESH_MARGIN_S in \S+config\.json must be an integer from 0 to 86400, got 100000\n$/);
  });
});
