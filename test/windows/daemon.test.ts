// Windows, under Wine with the official Windows Node (npm run test:windows): the built codexd on a
// named pipe, driven through codex-auth and the client library as on Linux. Start, stop and one
// daemon per home; the pipe's DACL and the server check every client makes; autostart with ten
// racing clients; an API-key login on stdin, token, status --json and a second client's
// notification; a killed daemon; a corrupt auth.json; a pipe name another process serves.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { daemonPidOf, cli, client, fileSandbox, killAtEnd, startDaemon, stopDaemons, waitFor, watch, type Daemon } from '../helpers.js';
import { checkPipeServer } from '../../shared/named-pipe.js';
import { currentUserSid, pipeDacl, pipeServer } from '../../shared/win32.js';

const daemons: Daemon[] = [];
after(() => stopDaemons(daemons));

const API_KEY = 'sk-windows-test-0123456789abcdef';

describe('codexd on a named pipe (Windows under Wine)', () => {
  it('serves the pipe, which only this user and SYSTEM may open, and whose server the client checks runs as this user', async () => {
    const box = fileSandbox();
    const daemon = await startDaemon(box);
    daemons.push(daemon);
    const dacl = pipeDacl(box.socket);
    const me = currentUserSid();
    assert.match(dacl, /^D:P/, `a protected DACL, nothing inherited: ${dacl}`);
    const entries = dacl.match(/\([^)]*\)/g) ?? [];
    assert.deepEqual(entries.map((entry) => entry.split(';').pop()!.replace(')', '')).sort(), [me, 'SY'].sort(), `only this user and SYSTEM: ${dacl}`);
    const server = pipeServer(box.socket);
    assert.equal(server.pid, daemon.pid);
    assert.equal(server.sid, me);
    assert.doesNotThrow(() => checkPipeServer(box.socket));
    const status = await cli(box, ['daemon', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`pid ${daemon.pid}|${daemon.pid}`));
  });

  it('one daemon per CODEX_HOME: a second one says which is running and exits 1; daemon stop ends the first cleanly', async () => {
    const box = fileSandbox();
    const first = await startDaemon(box);
    daemons.push(first);
    const second = await startDaemon(box, { waitReady: false });
    const { code } = await second.exited;
    assert.equal(code, 1);
    assert.match(second.stderr(), /another codexd already manages|codexd is already running/);
    const stop = await cli(box, ['daemon', 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await first.exited).code, 0);
    assert.equal((await cli(box, ['status', '--no-autostart'])).code, 2, 'nothing answers on the pipe any more');
  });

  it('ten clients racing on a fresh pipe autostart one daemon, which logs under %LOCALAPPDATA%\\codexd', async () => {
    const box = fileSandbox();
    const runs = await Promise.all(Array.from({ length: 10 }, () => cli(box, ['status', '--json'], { timeoutMs: 60_000 })));
    for (const run of runs) assert.equal(run.code, 1, `logged out: ${run.stderr}`);
    const pid = daemonPidOf(box.codexHome, box.env);
    assert.ok(pid !== null);
    assert.equal(pipeServer(box.socket).pid, pid);
    const state = `${box.env['LOCALAPPDATA']}\\codexd`;
    const logs = readdirSync(state).filter((name) => name.endsWith('.log'));
    assert.equal(logs.length, 1, `the log is in ${state}`);
    const started = readFileSync(`${state}\\${logs[0]}`, 'utf8').split('\n').filter((line) => line.includes('codexd is ready'));
    assert.equal(started.length, 1, 'one daemon started');
    assert.ok(state.startsWith(box.env['USERPROFILE']!), 'inside the user profile');
    const stop = await cli(box, ['daemon', 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
  });

  it('an API key on stdin: token prints it, status --json says so, and a second client hears of it', async () => {
    const box = fileSandbox();
    const daemon = await startDaemon(box);
    daemons.push(daemon);
    const watcher = await client(box);
    const { updates } = watch(watcher);
    const login = await cli(box, ['login', '--with-api-key'], { input: `${API_KEY}\n` });
    assert.equal(login.code, 0, login.stderr);
    const update = await updates.next((status) => status.account?.type === 'apiKey');
    assert.equal(update.state, 'ok');
    const token = await cli(box, ['token']);
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.stdout, `${API_KEY}\n`);
    const status = await cli(box, ['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { account: { type: string } }).account.type, 'apiKey');
    const auth = JSON.parse(readFileSync(`${box.codexHome}\\auth.json`, 'utf8')) as { OPENAI_API_KEY: string };
    assert.equal(auth.OPENAI_API_KEY, API_KEY);
    await watcher.close();
  });

  it('a daemon killed (TerminateProcess) leaves auth.json whole, and the next client starts a new one that serves it', async () => {
    const box = fileSandbox();
    const daemon = await startDaemon(box);
    daemons.push(daemon);
    assert.equal((await cli(box, ['login', '--with-api-key'], { input: `${API_KEY}\n` })).code, 0);
    const before = readFileSync(`${box.codexHome}\\auth.json`, 'utf8');
    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    assert.equal(readFileSync(`${box.codexHome}\\auth.json`, 'utf8'), before);
    assert.deepEqual(readdirSync(box.codexHome).filter((name) => name.startsWith('.auth-')), [], 'no temp file left');
    const token = await cli(box, ['token'], { timeoutMs: 30_000 });
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.stdout, `${API_KEY}\n`);
    assert.equal((await cli(box, ['daemon', 'stop'])).code, 0);
  });

  it('a corrupt auth.json is reported, not overwritten, and a new login keeps it aside', async () => {
    const box = fileSandbox();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(box.codexHome, { recursive: true });
    writeFileSync(`${box.codexHome}\\auth.json`, '{"tokens": {');
    const daemon = await startDaemon(box);
    daemons.push(daemon);
    const status = await cli(box, ['status', '--json']);
    assert.equal(status.code, 1);
    const parsed = JSON.parse(status.stdout) as { state: string; reauthReason: string | null };
    assert.equal(parsed.state, 'loggedOut');
    assert.ok(parsed.reauthReason, 'says why');
    assert.equal(readFileSync(`${box.codexHome}\\auth.json`, 'utf8'), '{"tokens": {');
    assert.equal((await cli(box, ['login', '--with-api-key'], { input: `${API_KEY}\n` })).code, 0);
    assert.ok(readdirSync(box.codexHome).some((name) => name.startsWith('auth.json.corrupt-')), 'the old file is kept aside');
  });

  it('a pipe name another process serves: codexd says so and exits non-zero, and clients refuse nothing of ours is there', async () => {
    const box = fileSandbox();
    // Another program holding the name (Wine would even let a second listen succeed).
    const squatter = spawn(process.execPath, ['-e', `require('net').createServer(() => {}).listen(${JSON.stringify(box.socket)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    killAtEnd(squatter);
    await new Promise<void>((resolve) => squatter.stdout!.once('data', () => resolve()));
    const daemon = await startDaemon(box, { waitReady: false });
    const { code } = await daemon.exited;
    assert.notEqual(code, 0);
    assert.match(daemon.stderr(), new RegExp(`the pipe .* is already served by another process \\(pid ${squatter.pid}\\), not by codexd`));
    squatter.kill();
    await waitFor(() => squatter.exitCode !== null || squatter.signalCode !== null, 'the squatter to end');
  });
});
