// codex-auth and codexd as a new user meets them: help, unknown and stray flags, a logged-out
// status that says what to run, API keys checked before anything is sent, colour only on a
// terminal, one timestamp format, one activation name, and errors printed once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, codexdBin, hasAuth, readLog, type Sandbox } from './helpers.js';
import { finishWorlds, world } from './login-support.js';
import { cliOnPty } from './pty.js';

after(finishWorlds);

const ISO_MS = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/;

function codexd(box: Sandbox, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [codexdBin, ...args], { env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('help and flags', () => {
  it('`codex-auth` alone and `codex-auth help` print the usage and exit 0', async () => {
    const w = await world('help');
    for (const args of [[], ['help']]) {
      const result = await cli(w.box, args);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^Usage: codex-auth <command> \[options\]$/m);
      assert.match(result.stdout, /logs \[-f\] \[--json\]/);
    }
  });

  it('an unknown flag is one line, with "did you mean" when a real flag is close; exit 2', async () => {
    const w = await world('unknown flags');
    const close = await cli(w.box, ['status', '--jsn']);
    assert.equal(close.code, 2);
    assert.equal(close.stderr, 'codex-auth: unknown option --jsn; did you mean --json? (codex-auth --help lists them)\n');
    const typo = await cli(w.box, ['login', '--no-brwser']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /^codex-auth: unknown option --no-brwser; did you mean --no-browser\?/);
    const far = await cli(w.box, ['token', '--frobnicate']);
    assert.equal(far.code, 2);
    assert.equal(far.stderr, 'codex-auth: unknown option --frobnicate (codex-auth --help lists them)\n');
    const missing = await cli(w.box, ['status', '--socket']);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, 'codex-auth: --socket needs a value (codex-auth --help lists them)\n');
  });

  it('a flag that does not apply to the command is a usage error (exit 2), and nothing is done', async () => {
    const w = await world('stray flags');
    for (const [args, flag, command] of [
      [['status', '--force-refresh'], '--force-refresh', 'status'],
      [['logout', '--json'], '--json', 'logout'],
      [['token', '--device-auth'], '--device-auth', 'token'],
      [['login', '--json'], '--json', 'login'],
      [['daemon', 'stop', '--dry-run'], '--dry-run', 'daemon stop'],
      [['service', 'install', '--socket', '/tmp/x.sock'], '--socket', 'service install'],
      [['logs', '--force-refresh'], '--force-refresh', 'logs'],
    ] as const) {
      const result = await cli(w.box, [...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr, `codex-auth: ${flag} does not apply to \`codex-auth ${command}\` (codex-auth --help lists what does)\n`);
      assert.equal(result.stdout, '');
    }
    assert.equal((await w.watcher.daemonStatus()).pid, w.daemon.pid, 'daemon stop --dry-run stopped nothing');
  });
});

describe('logged out, API keys, browser and colour', () => {
  it('logged out, `status` says what to run (exit 1)', async () => {
    const w = await world('logged-out status');
    const result = await cli(w.box, ['status']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^Not logged in\.\nRun `codex-auth login` to sign in\.\n/);
  });

  it('--with-api-key refuses an empty key or one with whitespace inside (exit 2) and stores nothing', async () => {
    const w = await world('api key input');
    for (const [input, why] of [
      ['', 'no API key given'],
      ['  \n', 'no API key given'],
      ['sk-abc def\n', 'the API key has whitespace inside it'],
      ['sk-abc\tdef', 'the API key has whitespace inside it'],
      ['sk-one\nsk-two\n', 'the API key has whitespace inside it'],
    ] as const) {
      const result = await cli(w.box, ['login', '--with-api-key'], { input });
      assert.equal(result.code, 2, JSON.stringify(input));
      assert.equal(result.stderr, `codex-auth: ${why}; nothing was changed\n`);
    }
    assert.equal(hasAuth(w.box), false);
    const ok = await cli(w.box, ['login', '--with-api-key'], { input: '  sk-test-key-1234567890\n' });
    assert.equal(ok.code, 0, ok.stderr);
    w.extraSecrets.push({ label: 'API key', value: 'sk-test-key-1234567890' });
  });

  it('--no-browser on a terminal leaves the browser out of the menu', async () => {
    const w = await world('no-browser menu');
    const pty = cliOnPty(w.box, ['login', '--no-browser']);
    await pty.shows('Choose [1-2, Enter for 1]: ');
    assert.doesNotMatch(pty.output(), /browser/i);
    assert.match(pty.output(), /1\) Sign in with a one-time device code/);
    pty.type('\u0004');
    assert.equal(await pty.exitStatus(), 1);
  });

  it('colour only on a terminal without NO_COLOR; one timestamp format in status, the log and the terminal', async () => {
    const w = await world('colour');
    const piped = await cli(w.box, ['login', '--device-auth'], { timeoutMs: 30_000 });
    assert.equal(piped.code, 0, piped.stderr);
    assert.doesNotMatch(piped.stdout + piped.stderr, /\u001b/, 'no escape sequence when output is not a terminal');
    const code = /^ {3}([A-Z0-9]{4}-[A-Z0-9]{4})$/m.exec(piped.stdout)?.[1];
    assert.ok(code, piped.stdout);
    w.shown.push(code);

    const onTerminal = cliOnPty(w.box, ['login', '--device-auth']);
    assert.equal(await onTerminal.exitStatus(30_000), 0, onTerminal.output());
    assert.match(onTerminal.output(), /\u001b\[1m[A-Z0-9]{4}-[A-Z0-9]{4}\u001b\[0m/, 'the code is bold on a terminal');
    w.shown.push(...[...onTerminal.output().matchAll(/[A-Z0-9]{4}-[A-Z0-9]{4}/g)].map((m) => m[0]));

    const noColor = cliOnPty(w.box, ['login', '--device-auth'], { NO_COLOR: '1' });
    assert.equal(await noColor.exitStatus(30_000), 0, noColor.output());
    assert.doesNotMatch(noColor.output(), /\u001b\[1m/, 'NO_COLOR is honoured');
    w.shown.push(...[...noColor.output().matchAll(/[A-Z0-9]{4}-[A-Z0-9]{4}/g)].map((m) => m[0]));

    const status = await cli(w.box, ['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`token expires:  ${ISO_MS.source} \\(in \\d+ min\\)`));
    assert.match(status.stdout, new RegExp(`last refresh:   ${ISO_MS.source} `));
    for (const line of readLog(w.box).trim().split('\n')) assert.match((JSON.parse(line) as { time: string }).time, new RegExp(`^${ISO_MS.source}$`));
  });
});

describe('codexd itself', () => {
  it('the activation name is the same in the log and in `daemon status`', async () => {
    const w = await world('activation name');
    const status = await cli(w.box, ['daemon', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^ {2}activation: {3}bind$/m);
    const json = JSON.parse((await cli(w.box, ['daemon', 'status', '--json'])).stdout) as { activation: string };
    assert.equal(json.activation, 'bind');
    assert.match(readLog(w.box), /"activation":"bind","msg":"codexd is ready"/);
  });

  it('`codexd --help` prints the real path of the settings file', async () => {
    const w = await world('codexd help');
    const result = await codexd(w.box, ['--help']);
    assert.equal(result.code, 0);
    assert.ok(result.stdout.includes(join(w.box.env['XDG_CONFIG_HOME']!, 'codexd', 'config.json')), result.stdout);
  });

  it('a fatal start-up error is printed once, logging to stderr or to a file', async () => {
    const w = await world('fatal once');
    const args = ['--codex-home', '/etc/passwd/home', '--socket', join(w.box.dir, 'run', 'other', 's.sock')];
    const plain = await codexd(w.box, args);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /^codexd: cannot create CODEX_HOME \/etc\/passwd\/home: ENOTDIR[^\n]*\n$/, 'one line, once');
    const logFile = join(w.box.dir, 'fatal.log');
    const logged = await codexd(w.box, [...args, '--log-file', logFile]);
    assert.equal(logged.code, 1);
    assert.equal(logged.stderr.split('\n').filter(Boolean).length, 1, logged.stderr);
    assert.equal(readLog({ ...w.box, logFile }).match(/cannot create CODEX_HOME/g)?.length, 1);
  });
});

