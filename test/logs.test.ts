// Logs a person can read: `codex-auth logs [-f] [--json]` from the log file of the daemon that
// serves this CODEX_HOME (each home has its own), or from the journal under systemd; and codexd in
// the foreground on a terminal prints readable lines.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { codexHomeKey } from '../shared/paths.js';
import { cli, codexdBin, enableSocketUnit, fileSandbox, startCli, waitFor } from './helpers.js';
import { cliOnPty } from './pty.js';

const READY = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] INFO: codexd is ready \{.*"activation":"bind"\}$/m;

describe('codex-auth logs', () => {
  it('daemons for different homes log to different files; logs shows the one for this CODEX_HOME, readable or --json', async () => {
    const a = fileSandbox();
    const b = fileSandbox({ HOME: a.env['HOME'], XDG_STATE_HOME: a.env['XDG_STATE_HOME'] });
    delete a.env['CODEX_HOME']; // the default home, ~/.codex
    for (const x of [a, b]) assert.equal((await cli(x, ['status'])).code, 1, 'autostarted, logged out');
    const stateDir = join(a.env['XDG_STATE_HOME']!, 'codexd');
    const defaultLog = join(stateDir, 'codexd.log');
    const otherLog = join(stateDir, `codexd-${codexHomeKey(b.codexHome)}.log`);
    assert.match(readFileSync(defaultLog, 'utf8'), new RegExp(`"codexHome":"${join(a.env['HOME']!, '.codex')}"`));
    assert.match(readFileSync(otherLog, 'utf8'), new RegExp(`"codexHome":"${b.codexHome}"`));
    assert.doesNotMatch(readFileSync(defaultLog, 'utf8'), new RegExp(b.codexHome));

    const readable = await cli(b, ['logs']);
    assert.equal(readable.code, 0, readable.stderr);
    assert.match(readable.stdout, READY);
    assert.ok(readable.stdout.includes(b.codexHome));
    assert.doesNotMatch(readable.stdout, /"level"|\u001b/, 'readable, and no colour into a pipe');
    const json = await cli(b, ['logs', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const entries = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; codexHome?: string });
    assert.ok(entries.some((e) => e.msg === 'codexd is ready' && e.codexHome === b.codexHome));

    for (const x of [a, b]) assert.equal((await cli(x, ['daemon', 'stop'])).code, 0);
  });

  it('logs -f keeps printing new lines; with no daemon and no log yet it says where the log will be', async () => {
    const x = fileSandbox();
    const none = await cli(x, ['logs']);
    assert.equal(none.code, 1);
    assert.equal(none.stderr, `codex-auth: no log yet at ${x.logFile}; codexd writes it once it runs detached\n`);
    assert.equal((await cli(x, ['daemon', 'start'])).code, 0);
    const follow = startCli(x, ['logs', '-f']);
    try {
      await waitFor(() => READY.test(follow.stdout()), 'logs -f to print the start', 15_000);
      assert.equal((await cli(x, ['daemon', 'stop'])).code, 0);
      await waitFor(() => /INFO: shutting down/.test(follow.stdout()) && /INFO: stopped/.test(follow.stdout()), 'logs -f to print the shutdown', 15_000);
      assert.equal(follow.child.exitCode, null, 'still following');
    } finally {
      follow.child.kill();
    }
  });

  it('under systemd the log comes from the journal (journalctl --user -u codexd.service), followed with -f', async () => {
    const x = fileSandbox();
    enableSocketUnit(x, '[Socket]\n');
    const calls = join(x.dir, 'journalctl.calls');
    const fake = join(x.dir, 'journalctl');
    const line = JSON.stringify({ level: 40, time: '2026-01-02T03:04:05.678Z', pid: 7, msg: 'refresh failed, will retry' });
    writeFileSync(fake, `#!/bin/sh\necho "$*" >> '${calls}'\necho '${line}'\necho 'codexd: a plain line'\n`);
    chmodSync(fake, 0o755);
    const env = { CODEXD_JOURNALCTL: fake };
    const readable = await cli(x, ['logs'], { env });
    assert.equal(readable.code, 0, readable.stderr);
    assert.equal(readable.stdout, '[2026-01-02T03:04:05.678Z] WARN: refresh failed, will retry\ncodexd: a plain line\n');
    assert.equal((await cli(x, ['logs', '-f', '--json'], { env })).stdout, `${line}\ncodexd: a plain line\n`);
    assert.deepEqual(readFileSync(calls, 'utf8').trim().split('\n'), ['--user -u codexd.service -o cat --no-pager', '--user -u codexd.service -o cat --no-pager -n 10 -f']);
    assert.equal(existsSync(x.logFile), false, 'no daemon was started to find out');
  });
});

describe('codexd in the foreground', () => {
  it('on a terminal prints readable lines with ISO times (coloured unless NO_COLOR); Ctrl-C stops it', async () => {
    const x = fileSandbox();
    const coloured = cliOnPty(x, [], {}, [codexdBin]);
    await coloured.shows('codexd is ready');
    assert.match(coloured.output(), /\u001b\[32mINFO\u001b\[39m/);
    coloured.type('\u0003');
    assert.equal(await coloured.exitStatus(), 0, coloured.output());

    const pty = cliOnPty(x, [], { NO_COLOR: '1' }, [codexdBin]);
    await pty.shows('codexd is ready');
    assert.match(pty.output().replace(/\r/g, ''), READY);
    assert.doesNotMatch(pty.output(), /"level"/);
    pty.type('\u0003');
    assert.equal(await pty.exitStatus(), 0, pty.output());
    assert.match(pty.output(), /INFO: stopped/);
  });
});
