// systemd socket activation: codexd serves the socket it is handed and leaves it to its owner.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCodes, Requests } from '../shared/protocol.js';
import { canConnect, cli, client, codexdBin, enableSocketUnit, fileSandbox, rawCall, restrictedSocket, waitFor, type Sandbox } from './helpers.js';

const hasActivate = spawnSync('systemd-socket-activate', ['--help']).status === 0;
function run(box: Sandbox, script: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', script], { env: box.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

function exitOf(pid: number): Promise<unknown> {
  return waitFor(() => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, 'the daemon to exit');
}

describe('socket activation', () => {
  it('serves on the socket systemd hands over, reports it, and leaves the socket file to its owner', { skip: hasActivate ? false : 'systemd-socket-activate is not installed (Debian package systemd)' }, async () => {
    const b = fileSandbox();
    mkdirSync(dirname(b.socket), { mode: 0o700 });
    // systemd-socket-activate passes on only the variables named with -E: the sandbox's home is one.
    const activator = spawn('sh', ['-c', `umask 077; exec systemd-socket-activate -l "${b.socket}" --fdname=codexd -E CODEX_HOME "${process.execPath}" "${codexdBin}" --log-file "${b.logFile}"`], {
      env: b.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      // The file exists from bind(); a connection is refused until listen().
      await waitFor(() => canConnect(b.socket), 'systemd-socket-activate to listen on the socket');
      // systemd-socket-activate picks the socket's mode itself (the real unit says SocketMode=0600);
      // the 0700 folder is what keeps other users out here.
      assert.equal(lstatSync(dirname(b.socket)).mode & 0o777, 0o700);

      const c = await client(b);
      const status = await c.daemonStatus();
      assert.equal(status.activation, 'systemd');
      assert.equal((await c.read()).state, 'loggedOut');
      const login = await cli(b, ['login', '--with-api-key', '--no-autostart'], { input: 'sk-activated-0123456789' });
      assert.equal(login.code, 0, login.stderr);
      assert.deepEqual(await c.token(), { type: 'apiKey', apiKey: 'sk-activated-0123456789' });
      await c.close();

      process.kill(status.pid, 'SIGTERM');
      await exitOf(status.pid);
      assert.equal(existsSync(b.socket), true, 'the socket belongs to systemd, not to codexd');
    } finally {
      activator.kill('SIGKILL');
    }
  });

  it('serves both sockets when systemd hands over two (codexd and codexd-restricted), each with its own methods', { skip: hasActivate ? false : 'systemd-socket-activate is not installed (Debian package systemd)' }, async () => {
    const b = fileSandbox();
    mkdirSync(dirname(b.socket), { mode: 0o700 });
    const restricted = restrictedSocket(b);
    // Named as the units name them, and passed in the other order: codexd tells them apart by name.
    // It reports the paths its settings give (systemd does not say), so it gets CODEXD_SOCKET too.
    const activator = spawn('sh', ['-c', `umask 077; exec systemd-socket-activate -l "${restricted}" -l "${b.socket}" --fdname=codexd-restricted:codexd -E CODEX_HOME -E CODEXD_SOCKET "${process.execPath}" "${codexdBin}" --log-file "${b.logFile}"`], {
      env: b.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      await waitFor(async () => (await canConnect(b.socket)) && existsSync(restricted), 'systemd-socket-activate to listen on both sockets');
      const c = await client(b);
      const status = await c.daemonStatus();
      assert.equal(status.activation, 'systemd');
      assert.equal(status.restrictedSocket, restricted);
      await c.loginStart({ type: 'apiKey', apiKey: 'sk-activated-both-0123456789' });
      assert.deepEqual((await rawCall(restricted, Requests.accountToken.method)).result, { type: 'apiKey', apiKey: 'sk-activated-both-0123456789' });
      assert.equal((await rawCall(restricted, Requests.daemonShutdown.method)).error?.code, ErrorCodes.restricted);
      await c.close();
      process.kill(status.pid, 'SIGTERM');
      await exitOf(status.pid);
      assert.ok(existsSync(b.socket) && existsSync(restricted), 'both sockets belong to systemd, not to codexd');
    } finally {
      activator.kill('SIGKILL');
    }
  });

  it('clients do not autostart a daemon when codexd.socket is installed: systemd owns the socket', async () => {
    const b = fileSandbox();
    enableSocketUnit(b, '[Socket]\nListenStream=%t/codexd/codexd.sock\n');
    const result = await cli(b, ['status']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /codexd\.socket is installed but nothing listens on .*systemctl --user enable --now codexd\.socket/);
    assert.equal(existsSync(b.socket), false, 'no daemon was spawned to race systemd');

    const elsewhere = await cli(b, ['status', '--json'], { env: { CODEXD_SOCKET: join(b.dir, 'run', 'other', 'codexd.sock') } });
    assert.equal(elsewhere.code, 1, 'a non-default socket is not systemd\'s, so autostart still works there');
    assert.match(elsewhere.stdout, /"state": "loggedOut"/);
  });

  it('refuses LISTEN_PID that names another process, with a clear error', async () => {
    const b = fileSandbox();
    const result = await run(b, `LISTEN_PID=1 LISTEN_FDS=1 exec "${process.execPath}" "${codexdBin}"`);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /socket activation: LISTEN_PID is 1, but this process is \d+/);
    assert.equal(existsSync(b.socket), false, 'no silent second bind');
  });

  it('refuses LISTEN_FDS=3, with a clear error', async () => {
    const b = fileSandbox();
    const result = await run(b, `LISTEN_PID=$$ LISTEN_FDS=3 exec "${process.execPath}" "${codexdBin}"`);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /socket activation: LISTEN_FDS is 3; codexd serves one socket, or two with the restricted one/);
    assert.equal(existsSync(b.socket), false, 'no silent second bind');
  });
});
