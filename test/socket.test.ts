// The socket: a private folder, one daemon per socket and per CODEX_HOME, autostart, and a
// transport that survives bad peers.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { authPath, canConnect, cli, client, codexdBin, daemonPidOf, fileSandbox, killAtEnd, readLog, restrictedSocket, sleep, slowSyscalls, startDaemon, straceProblem, waitFor, type Sandbox } from './helpers.js';


function frame(body: string): string {
  return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Opens a raw connection and collects whatever the daemon sends back until it closes. */
function raw(path: string): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(path);
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.once('connect', () => resolve({ socket, received: () => received, closed }));
    socket.once('error', reject);
  });
}

function runningDaemons(box: Sandbox): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes('dist/daemon/codexd.cjs') && line.includes(box.socket))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

/** The daemon exits 0 within 10 s: far sooner than the 30 s safety-net poll, so its watch saw the change. */
async function stepsAside(daemon: { exited: Promise<{ code: number | null }> }): Promise<void> {
  const timeout = sleep(10_000, undefined, { ref: false }).then(() => {
    throw new Error('the daemon kept running');
  });
  assert.equal((await Promise.race([daemon.exited, timeout])).code, 0);
}

describe('the socket', () => {
  it('is created 0600 inside a 0700 folder', async () => {
    const b = fileSandbox();
    const daemon = await startDaemon(b);
    assert.equal(lstatSync(b.socket).mode & 0o777, 0o600);
    assert.equal(lstatSync(dirname(b.socket)).mode & 0o777, 0o700);
    await daemon.stop();
    assert.equal(existsSync(b.socket), false, 'the socket file is removed at exit');
  });

  it('a SIGTERM while start-up is still binding its sockets still removes them', async (t) => {
    // bind() returns 500 ms late, so the signal lands after the main socket file exists and
    // before the daemon serves; it must go through the orderly shutdown, not end the process.
    const slowBind = slowSyscalls('bind', 500);
    const problem = straceProblem(slowBind);
    if (problem) return t.skip(problem);
    const b = fileSandbox();
    const strace = spawn('strace', [...slowBind, process.execPath, codexdBin, '--log-file', b.logFile], { env: b.env, stdio: 'ignore' });
    killAtEnd(strace);
    await waitFor(() => existsSync(b.socket), 'the main socket file', 30_000);
    const pid = daemonPidOf(b.codexHome, b.env)!;
    process.kill(pid, 'SIGTERM');
    const exited = new Promise((resolve) => strace.once('exit', resolve));
    await exited;
    assert.equal(existsSync(b.socket), false, `the socket is removed; log:\n${readLog(b)}`);
    assert.equal(existsSync(restrictedSocket(b)), false, 'and the restricted one');
    assert.match(readLog(b), /"why":"SIGTERM".*shutting down|shutting down.*SIGTERM/);
  });

  it('a socket folder open to other users is refused with a one-line error', async () => {
    const b = fileSandbox();
    mkdirSync(dirname(b.socket), { mode: 0o700 });
    chmodSync(dirname(b.socket), 0o755);
    const daemon = await startDaemon(b, { waitReady: false });
    const { code } = await daemon.exited;
    assert.equal(code, 1);
    const message = daemon.stderr().trim();
    assert.equal(message.split('\n').length, 1, message);
    assert.match(message, /has mode 0755, open to other users/);
  });

  it('a socket path longer than the platform limit is refused instead of silently truncated', async () => {
    const b = fileSandbox();
    const long = join(b.dir, 'run', 'x'.repeat(120), 'codexd.sock');
    const daemon = await startDaemon(b, { env: { CODEXD_SOCKET: long }, waitReady: false });
    const { code } = await daemon.exited;
    assert.equal(code, 1);
    assert.match(daemon.stderr(), /longer than this platform's limit of 107/);
  });

  it('a stale socket file (nothing listening) is replaced', async () => {
    const b = fileSandbox();
    mkdirSync(dirname(b.socket), { mode: 0o700 });
    // A listener killed with SIGKILL leaves its socket file behind, as a crashed daemon does.
    const crashed = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(b.socket)}, () => console.log('up'))`]);
    await new Promise((resolve) => crashed.stdout.once('data', resolve));
    crashed.kill('SIGKILL');
    await new Promise((resolve) => crashed.once('exit', resolve));
    assert.equal(existsSync(b.socket), true);
    assert.equal(await canConnect(b.socket), false);
    const daemon = await startDaemon(b);
    const c = await client(b);
    assert.equal((await c.daemonStatus()).pid, daemon.pid);
    await c.close();
    await daemon.stop();
  });

  it('a daemon whose socket file was deleted steps aside, so a new one can start', async () => {
    const b = fileSandbox();
    const daemon = await startDaemon(b);
    unlinkSync(b.socket);
    await stepsAside(daemon);
    const next = await startDaemon(b);
    await next.stop();
  });

  it('a daemon whose socket file was replaced by another socket steps aside and leaves that one alone', async () => {
    const b = fileSandbox();
    const daemon = await startDaemon(b);
    const other = createServer();
    const otherPath = join(dirname(b.socket), 'other.sock');
    await new Promise<void>((resolve) => other.listen(otherPath, resolve));
    try {
      renameSync(otherPath, b.socket);
      await stepsAside(daemon);
      assert.equal(await canConnect(b.socket), true, 'the socket that replaced it is still there');
    } finally {
      other.close();
    }
  });

  it('a daemon whose socket folder was removed steps aside', async () => {
    const b = fileSandbox();
    const daemon = await startDaemon(b);
    rmSync(dirname(b.socket), { recursive: true });
    await stepsAside(daemon);
  });

  it('a daemon whose socket folder is removed the moment it listens, before it watches the socket, steps aside', async (t) => {
    // listen() returns 1 s late: a client can connect, and remove the folder, before the daemon
    // has looked at its socket file or started watching it.
    const slowListen = slowSyscalls('listen', 1000);
    const problem = straceProblem(slowListen);
    if (problem) return t.skip(problem);
    const b = fileSandbox();
    const strace = spawn('strace', [...slowListen, process.execPath, codexdBin, '--log-file', b.logFile], { env: b.env, stdio: 'ignore' });
    killAtEnd(strace);
    const exited = new Promise<{ code: number | null }>((resolve) => strace.once('exit', (code) => resolve({ code })));
    await waitFor(() => canConnect(b.socket), 'codexd to listen', 30_000);
    rmSync(dirname(b.socket), { recursive: true });
    await stepsAside({ exited });
    assert.match(readLog(b), /was removed or replaced/);
  });

  it('a second daemon on the same socket exits non-zero naming the running one', async () => {
    const b = fileSandbox();
    const first = await startDaemon(b);
    const second = await startDaemon(b, { env: { CODEX_HOME: join(b.dir, 'other-home') }, waitReady: false });
    const { code } = await second.exited;
    assert.equal(code, 1);
    assert.match(second.stderr(), new RegExp(`already running \\(pid ${first.pid}, socket ${b.socket.replace(/[/.]/g, '\\$&')}\\)`));
    assert.equal(await canConnect(b.socket), true, 'the first keeps serving');
    await first.stop();
  });

  it('a second daemon on another socket but the same CODEX_HOME is refused', async () => {
    const b = fileSandbox();
    const first = await startDaemon(b);
    const otherSocket = join(b.dir, 'run', 'other', 'codexd.sock');
    const second = await startDaemon(b, { env: { CODEXD_SOCKET: otherSocket }, waitReady: false });
    const { code } = await second.exited;
    assert.equal(code, 1);
    assert.match(second.stderr(), new RegExp(`another codexd already manages .* \\(pid ${first.pid}`));
    await first.stop();
  });

  it('ten clients autostarting at once end with exactly one daemon', async () => {
    const b = fileSandbox();
    const results = await Promise.all(Array.from({ length: 10 }, () => cli(b, ['status', '--json'])));
    const pids = new Set(results.map((r) => (JSON.parse(r.stdout) as { daemon: { pid: number } }).daemon.pid));
    assert.equal(pids.size, 1, `all ten talked to one daemon: ${[...pids].join(', ')}`);
    assert.deepEqual(runningDaemons(b), [...pids]);
    for (const r of results) assert.equal(r.code, 1, 'logged out');
    const stop = await cli(b, ['daemon', 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual(runningDaemons(b), []);
  });

  it("a failed autostart (CODEXD_LOGIN_PORT=abc) prints the daemon's own reason in one line, exit status 2, and logs it", async () => {
    const b = fileSandbox({ CODEXD_LOGIN_PORT: 'abc' });
    const result = await cli(b, ['status']);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    const line = result.stderr.trim();
    assert.equal(line.split('\n').length, 1, `one line: ${line}`);
    assert.match(line, /^codex-auth: codexd could not start: .*LOGIN_PORT.*abc/);
    assert.match(readLog(b), /LOGIN_PORT.*abc/, 'the reason is in the log too');
  });

  it('a broken config.json is the same one line, exit status 2, from the client and from the daemon', async () => {
    const b = fileSandbox();
    const file = join(b.env['XDG_CONFIG_HOME']!, 'codexd', 'config.json');
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, '{"LOG_LEVEL": ', { mode: 0o600 });
    const reason = `settings file ${file} is unreadable: `;
    for (const args of [['status'], ['token']]) {
      const result = await cli(b, args);
      assert.equal(result.code, 2, result.stdout + result.stderr);
      assert.ok(result.stderr.startsWith(`codex-auth: ${reason}`) && result.stderr.endsWith('; fix or remove it\n'), result.stderr);
      assert.equal(result.stderr.split('\n').length, 2, 'one line');
    }
    const daemon = await startDaemon(b, { waitReady: false });
    assert.equal((await daemon.exited).code, 2);
    assert.ok(daemon.stderr().startsWith(`codexd: ${reason}`), daemon.stderr());
  });

  it('with autostart off, an unreachable daemon is one clear line and exit status 2', async () => {
    const b = fileSandbox({ CODEXD_NO_AUTOSTART: '1' });
    const result = await cli(b, ['status']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^codex-auth: codexd is not running on .* autostart is off/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });
});

describe('the transport', () => {
  it('malformed JSON gets a parse error response and the connection carries on', async () => {
    const b = fileSandbox();
    const daemon = await startDaemon(b);
    const conn = await raw(b.socket);
    conn.socket.write(frame('{not json'));
    conn.socket.write(frame(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'daemon/status', params: {} })));
    await waitFor(() => conn.received().includes('"id":7'), 'the follow-up answer');
    assert.match(conn.received(), /"id":null,"error":\{"code":-32700/);
    conn.socket.write(frame('{"jsonrpc":"2.0","id":8,"method":"account/token","params":{"forceRefresh":"yes"}}'));
    await waitFor(() => conn.received().includes('"id":8'), 'the bad-params answer');
    assert.match(conn.received(), /"id":8,"error":\{"code":-32602/);
    conn.socket.write(frame('{"jsonrpc":"2.0","id":9,"method":"no/such"}'));
    await waitFor(() => conn.received().includes('"id":9'), 'the unknown-method answer');
    assert.match(conn.received(), /"id":9,"error":\{"code":-32601/);
    conn.socket.destroy();
    await daemon.stop();
  });

  it('garbage, an oversized frame and a half-sent frame close only their own connection', async () => {
    const b = fileSandbox({ CODEXD_FRAME_TIMEOUT_MS: '300' });
    const daemon = await startDaemon(b);
    const bystander = await client(b);

    const garbage = await raw(b.socket);
    garbage.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await garbage.closed;

    const oversized = await raw(b.socket);
    oversized.socket.write(`Content-Length: ${1024 * 1024 + 1}\r\n\r\n`);
    await oversized.closed;

    const half = await raw(b.socket);
    half.socket.write('Content-Length: 100\r\n\r\n{"jsonrpc":');
    await half.closed;

    assert.equal((await bystander.daemonStatus()).pid, daemon.pid, 'the other client is still served');
    await bystander.close();
    await daemon.stop();
  });

  it('connections beyond the cap are refused cleanly while existing ones keep working', async () => {
    const b = fileSandbox({ CODEXD_MAX_CONNECTIONS: '3' });
    const daemon = await startDaemon(b);
    const held = await Promise.all([client(b), client(b), client(b)]);
    await Promise.all(held.map((c) => c.daemonStatus()));
    const extra = await raw(b.socket);
    await extra.closed;
    assert.match(extra.received(), /too many connections \(limit 3\)/);
    assert.equal((await held[0]!.daemonStatus()).connections, 3);
    await Promise.all(held.map((c) => c.close()));
    await daemon.stop();
  });

  it('a client reconnects by itself after a daemon restart and hears about changes again', async () => {
    const b = fileSandbox();
    let daemon = await startDaemon(b);
    const c = await client(b);
    const updates: string[] = [];
    c.onAccountUpdated((s) => updates.push(s.account?.type ?? 'none'));
    await daemon.stop();
    daemon = await startDaemon(b);
    await waitFor(() => updates.length > 0, 'the resubscription status', 5000);
    writeFileSync(authPath(b), '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-after-restart-0123"\n}');
    await waitFor(() => updates.includes('apiKey'), 'a change after the restart');
    await c.close();
    await daemon.stop();
  });
});
