// `codex-auth doctor`: each check against a home broken in exactly that way, read through the
// report's JSON (the shape of Codex's own doctor report) and its exit status.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { cli, killAtEnd, type Sandbox } from './helpers.js';
import { holdLock, libfaketime, scene, type Scene } from './refresh-support.js';
import { deadPort } from './login-support.js';

interface Report {
  schemaVersion: number;
  generatedAt: string;
  overallStatus: string;
  codexdVersion: string;
  checks: Record<string, { id: string; category: string; status: string; summary: string; details: Record<string, unknown>; remediation: string | null; durationMs: number }>;
}

async function doctor(box: Sandbox, args: string[] = ['--offline'], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; report: Report; stderr: string }> {
  const result = await cli(box, ['doctor', '--json', ...args], { env });
  assert.equal(result.stderr, '', 'doctor writes its report, not errors');
  return { code: result.code, report: JSON.parse(result.stdout) as Report, stderr: result.stderr };
}

function check(report: Report, id: string) {
  const found = report.checks[id];
  assert.ok(found, `a check ${id} in ${Object.keys(report.checks).join(', ')}`);
  return found;
}

/** A scene logged in through auth.json, with codexd running. */
async function loggedIn(t: TestContext, env: NodeJS.ProcessEnv = {}): Promise<Scene> {
  const s = await scene(t, env);
  s.writeFixture();
  await s.start();
  return s;
}

describe('doctor', () => {
  test('a healthy home: every check ok, in the shape of Codex doctor report, exit 0, no secret printed', async (t) => {
    // Any free login port: Codex's own (1455, 1457) may be taken by other tests on this machine.
    const s = await loggedIn(t, { CODEXD_LOGIN_PORT: '0' });
    const { code, report } = await doctor(s.box);
    assert.equal(code, 0);
    assert.equal(report.schemaVersion, 1);
    assert.match(report.generatedAt, /^\d+s since unix epoch$/);
    assert.equal(typeof report.codexdVersion, 'string');
    for (const c of Object.values(report.checks)) {
      assert.deepEqual(Object.keys(c).sort(), ['category', 'details', 'durationMs', 'id', 'remediation', 'status', 'summary']);
      assert.ok(['ok', 'warning'].includes(c.status), `${c.id}: ${c.status} ${c.summary}`);
      if (c.status === 'ok') assert.equal(c.remediation, null);
    }
    assert.equal(check(report, 'daemon.running').status, 'ok');
    assert.equal(check(report, 'auth.credentials').status, 'ok');
    const text = (await cli(s.box, ['doctor', '--offline'])).stdout;
    const tokens = JSON.parse((await cli(s.box, ['token', '--json'])).stdout) as { accessToken: string };
    assert.ok(!text.includes(tokens.accessToken) && !JSON.stringify(report).includes(tokens.accessToken), 'no token in the report');
    assert.match(text, /codex-auth doctor .*: ok/);
  });

  test('no daemon: doctor says none runs, starts none, and the login is not checked', async (t) => {
    const s = await scene(t);
    const { code, report } = await doctor(s.box);
    assert.equal(code, 0, 'nothing fails: a client would start codexd');
    const daemon = check(report, 'daemon.running');
    assert.equal(daemon.status, 'warning');
    assert.match(daemon.remediation!, /codex-auth daemon start/);
    assert.equal((await cli(s.box, ['daemon', 'status'])).code, 1, 'still no daemon');
  });

  test('a daemon serving another CODEX_HOME on the socket fails, naming both homes', async (t) => {
    const s = await loggedIn(t);
    const { code, report } = await doctor(s.box, ['--offline'], { CODEX_HOME: join(s.box.dir, 'other-home') });
    assert.equal(code, 1);
    const daemon = check(report, 'daemon.running');
    assert.equal(daemon.status, 'fail');
    assert.match(daemon.remediation!, new RegExp(`CODEX_HOME=${s.box.codexHome}`));
  });

  test('a daemon of another version: restart it', async (t) => {
    const s = await scene(t);
    const server = await fakeDaemon(s.box, { serverInfo: { name: 'codexd', version: '0.0.1' }, protocolVersion: 1, codexHome: s.box.codexHome });
    t.after(() => server.close());
    const { report } = await doctor(s.box);
    const daemon = check(report, 'daemon.running');
    assert.notEqual(daemon.status, 'ok');
    assert.match(daemon.summary, /0\.0\.1/);
    assert.match(daemon.remediation!, /codex-auth daemon stop && codex-auth daemon start/);
  });

  test('two codexd processes for one home fail, with the pids to end', async (t) => {
    const s = await loggedIn(t);
    // A second process that looks like codexd for the same home (another runtime folder's daemon).
    const fake = join(s.box.dir, 'codexd.cjs');
    writeFileSync(fake, 'setInterval(() => {}, 1000);\n');
    const other = spawn(process.execPath, [fake], { env: { CODEX_HOME: s.box.codexHome }, stdio: 'ignore' });
    killAtEnd(other);
    t.after(() => other.kill('SIGKILL'));
    const { code, report } = await doctor(s.box);
    assert.equal(code, 1);
    const instances = check(report, 'daemon.instances');
    assert.equal(instances.status, 'fail');
    assert.match(instances.remediation!, new RegExp(`kill ${other.pid}`));
  });

  test('a socket folder open to others fails with the chmod that fixes it', async (t) => {
    const s = await scene(t);
    const folder = join(s.box.dir, 'run', 'codexd');
    mkdirSync(folder, { recursive: true });
    chmodSync(folder, 0o755);
    const { code, report } = await doctor(s.box);
    assert.equal(code, 1);
    const socket = check(report, 'socket.folder');
    assert.equal(socket.status, 'fail');
    assert.equal(socket.remediation, `chmod 700 ${folder}`);
  });

  test('a stale socket file: nothing answers on it', async (t) => {
    const s = await scene(t);
    const d = await s.start();
    await d.stop('SIGKILL');
    const { report } = await doctor(s.box);
    const socket = check(report, 'socket.folder');
    assert.equal(socket.status, 'warning');
    assert.match(socket.summary, /stale socket/);
    assert.match(socket.remediation!, /codex-auth daemon start/);
  });

  test('a daemon that accepts and never answers (stopped): the socket check names the process to end', async (t) => {
    const s = await scene(t);
    s.writeFixture();
    const { pid } = await s.start();
    process.kill(pid, 'SIGSTOP');
    let report: Report;
    let code: number | null;
    try {
      ({ code, report } = await doctor(s.box));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    assert.equal(code, 1);
    const socket = check(report, 'socket.folder');
    assert.equal(socket.status, 'fail');
    assert.match(socket.summary, /does not answer/);
    assert.equal(socket.remediation, `kill ${pid}, then codex-auth daemon start`);
  });

  test('auth.json readable by others, or not JSON, fails with the fix', async (t) => {
    const s = await loggedIn(t);
    chmodSync(s.authFile, 0o644);
    let report = (await doctor(s.box)).report;
    assert.equal(check(report, 'home.auth_file').status, 'fail');
    assert.equal(check(report, 'home.auth_file').remediation, `chmod 600 ${s.authFile}`);
    chmodSync(s.authFile, 0o600);
    const broken = join(s.box.dir, 'broken.json');
    writeFileSync(broken, '{"tokens": ', { mode: 0o600 });
    copyFileSync(broken, s.authFile);
    report = (await doctor(s.box)).report;
    assert.equal(check(report, 'home.auth_file').status, 'fail');
    assert.match(check(report, 'home.auth_file').remediation!, /codex-auth logout/);
  });

  test("a held auth.lock is named with its holder", async (t) => {
    const s = await loggedIn(t);
    const held = await holdLock(s.lockFile);
    t.after(() => held.release());
    const { report } = await doctor(s.box);
    const auth = check(report, 'home.auth_file');
    assert.equal(auth.status, 'warning');
    assert.match(String((auth.details['locks held'] as string[])[0]), /auth\.lock: .*\(pid \d+\)/);
  });

  test('logged out: the login check fails and says to log in', async (t) => {
    const s = await scene(t);
    await s.start();
    const { code, report } = await doctor(s.box);
    assert.equal(code, 1);
    const credentials = check(report, 'auth.credentials');
    assert.equal(credentials.status, 'fail');
    assert.equal(credentials.remediation, 'codex-auth login');
  });

  test('keyring mode with no session bus: the credential store fails and names the fix', async (t) => {
    const s = await scene(t, { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' });
    mkdirSync(s.box.codexHome, { recursive: true, mode: 0o700 });
    writeFileSync(join(s.box.codexHome, 'config.toml'), 'cli_auth_credentials_store = "keyring"\n');
    await s.start();
    const { report } = await doctor(s.box);
    const store = check(report, 'home.credential_store');
    assert.equal(store.status, 'fail', store.summary);
    assert.ok(store.remediation);
  });

  test('the issuer unreachable: the network check names the cause; --offline skips it', async (t) => {
    const port = await deadPort();
    const s = await scene(t);
    const env = { CODEXD_ISSUER: `http://127.0.0.1:${port}` };
    const { report } = await doctor(s.box, [], env);
    const issuer = check(report, 'network.issuer');
    assert.equal(issuer.status, 'fail');
    assert.match(issuer.summary, /connection refused/);
    assert.match(issuer.remediation!, /HTTPS_PROXY/);
    const offline = (await doctor(s.box, ['--offline'], env)).report;
    assert.equal(offline.checks['network.issuer'], undefined);
  });

  test('a clock ten minutes ahead of the issuer fails the clock check', async (t) => {
    const faketime = libfaketime();
    const s = await scene(t);
    const ahead = (await doctor(s.box, [], { LD_PRELOAD: faketime, FAKETIME: '+10m' })).report;
    assert.equal(check(ahead, 'clock.skew').status, 'fail');
    assert.match(check(ahead, 'clock.skew').remediation!, /timedatectl/);
    const fine = (await doctor(s.box, [])).report;
    assert.equal(check(fine, 'clock.skew').status, 'ok');
  });

  test('the login ports taken by another process: named, with the way around it', async (t) => {
    const s = await scene(t);
    const port = await deadPort();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    t.after(() => holder.close());
    const { report } = await doctor(s.box, ['--offline'], { CODEXD_LOGIN_PORT: String(port) });
    const ports = check(report, 'login.ports');
    assert.equal(ports.status, 'warning');
    assert.match(String((ports.details['in use'] as string[])[0]), new RegExp(`${port}: .*\\(pid ${process.pid}\\)`));
    assert.match(ports.remediation!, /--device-auth/);
  });

  test('systemd units installed but not active: enable them', async (t) => {
    const s = await scene(t);
    const units = join(s.box.env['XDG_CONFIG_HOME']!, 'systemd', 'user');
    mkdirSync(units, { recursive: true });
    writeFileSync(join(units, 'codexd.socket'), '[Socket]\n');
    const systemctl = join(s.box.dir, 'systemctl');
    writeFileSync(systemctl, '#!/bin/sh\necho inactive\nexit 3\n', { mode: 0o755 });
    const { report } = await doctor(s.box, ['--offline'], { CODEXD_SYSTEMCTL: systemctl });
    const service = check(report, 'service.systemd');
    assert.equal(service.status, 'warning');
    assert.match(service.remediation!, /systemctl --user enable --now codexd\.socket/);
  });

  test('a Codex on PATH that codexd was not tested with is named', async (t) => {
    const s = await scene(t);
    const bin = join(s.box.dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'codex'), '#!/bin/sh\necho "codex-cli 0.100.0"\n', { mode: 0o755 });
    const { report } = await doctor(s.box, ['--offline'], { PATH: `${bin}:${process.env['PATH']}` });
    const codex = check(report, 'codex.cli');
    assert.equal(codex.status, 'warning');
    assert.match(codex.summary, /0\.100\.0/);
    assert.match(codex.remediation!, /npm install -g @openai\/codex@/);
  });

  test('a follower whose upstream is gone: the link check warns and points at the laptop', async (t) => {
    const s = await scene(t);
    await s.start({ env: { CODEXD_UPSTREAM: join(s.box.dir, 'nowhere.sock') } });
    const { report } = await doctor(s.box);
    const follower = check(report, 'follower.upstream');
    assert.notEqual(follower.status, 'ok');
    assert.match(follower.remediation!, /laptop/);
    assert.match(check(report, 'auth.credentials').remediation ?? '', /upstream machine/);
  });
});

/** A stand-in daemon that answers `initialize` with `init` and every other request with an error. */
async function fakeDaemon(box: Sandbox, init: object): Promise<Server> {
  const { frame, FrameParser } = await import('../shared/framing.js');
  const folder = join(box.dir, 'run', 'codexd');
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const server = createServer((socket) => {
    const parser = new FrameParser(1 << 20);
    socket.on('data', (chunk) =>
      parser.push(chunk, (body) => {
        const message = JSON.parse(body.toString()) as { id: number; method: string };
        const reply = message.method === 'initialize' ? { jsonrpc: '2.0', id: message.id, result: init } : { jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'no' } };
        socket.write(frame(reply));
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(box.socket, resolve));
  return server;
}
