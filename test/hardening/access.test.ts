// Who may connect. Another uid (`nobody`, through setpriv) cannot reach the socket even when its
// mode is widened, because of the 0700 folder; and when the folder is opened too, the daemon's
// SO_PEERCRED check on every accept refuses it and logs so. The browser login's callback server
// listens on loopback only (127.0.0.1 and ::1), answers 403 to a wrong Host header, and a forged
// callback with the wrong state changes nothing: no exchange, no file, the login keeps waiting and
// still completes. The other way round, a stranger listening where a client looks for codexd (a
// folder another user made first, or a socket of theirs) gets nothing from any client: not a byte.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { connect as connectClient, SocketRefusedError } from '../../client/index.js';
import { cli, cliBin, readAuth, readLog, restrictedSocket, waitFor, type Sandbox } from '../helpers.js';
import { browserStart, consent, httpGet } from '../login-support.js';
import { fixture, writeAtomically } from '../refresh-support.js';
import { isRoot, suite } from './support.js';

const s = suite('who may connect');
const NOBODY = 65534;

/** Why a client cannot be run as nobody here, or null. */
function setprivProblem(): string | null {
  if (!isRoot()) return 'running a client as another user needs root (setpriv changes uid only with CAP_SETUID)';
  const probe = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '-e', 'process.exit(0)'], { encoding: 'utf8' });
  if (probe.error) return `setpriv is missing (${probe.error.message}); install util-linux`;
  if (probe.status !== 0) return `setpriv could not run node as nobody: ${probe.stderr.trim()}`;
  return null;
}

interface NobodyResult {
  error?: string;
  connected?: boolean;
  answer?: string;
}

/** Connects to `socket` as nobody, sends daemon/status, and reports what happened. */
function asNobody(socket: string): NobodyResult {
  const script = `
    const net = require('net');
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'daemon/status', params: {} });
    const s = net.connect(${JSON.stringify(socket)});
    let answer = '', connected = false;
    const done = (r) => { process.stdout.write(JSON.stringify(r)); process.exit(0); };
    s.on('connect', () => { connected = true; s.write('Content-Length: ' + Buffer.byteLength(body) + '\\r\\n\\r\\n' + body); });
    s.on('data', (d) => { answer += d; });
    s.on('error', (e) => done(connected ? { connected, answer, error: e.code } : { error: e.code }));
    s.on('close', () => done({ connected, answer }));
    setTimeout(() => done({ connected, answer, error: 'timeout' }), 5000);`;
  const run = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8', env: { PATH: process.env['PATH'] } });
  s.capture('nobody client output', run.stdout + run.stderr);
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as NobodyResult;
}

function skipUnless(t: TestContext, problem: string | null): boolean {
  if (!problem) return true;
  s.skip(`${t.name}: ${problem}`);
  t.skip(problem);
  return false;
}

describe('another user', () => {
  it('cannot connect even with the socket chmod 666, because the socket folder is 0700', async (t) => {
    if (!skipUnless(t, setprivProblem())) return;
    const box = s.box();
    // Everything above the socket folder is passable, so the folder itself is what stops them.
    chmodSync(box.dir, 0o711);
    chmodSync(join(box.dir, 'run'), 0o711);
    const daemon = await s.daemon(box);
    chmodSync(box.socket, 0o666);
    const result = asNobody(box.socket);
    assert.deepEqual(result, { error: 'EACCES' });
    // The real client, as nobody: one clear line, exit status 2 (it checks the folder's owner before connecting).
    const cliRun = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, cliBin, 'status', '--no-autostart', '--socket', box.socket], { encoding: 'utf8', env: { PATH: process.env['PATH'], HOME: '/nonexistent' } });
    s.capture('codex-auth as nobody', cliRun.stdout + cliRun.stderr);
    assert.equal(cliRun.status, 2, cliRun.stderr);
    assert.match(cliRun.stderr, /its folder .* is owned by root \(uid 0\), not by you \(nobody \(uid 65534\)\)/);
    assert.equal(daemon.proc.exitCode, null);
  });

  it('is refused by the peer-credential check when the folder is opened too (755 + 666), and the daemon logs it', async (t) => {
    if (!skipUnless(t, setprivProblem())) return;
    const box = s.box();
    chmodSync(box.dir, 0o711);
    chmodSync(join(box.dir, 'run'), 0o711);
    const daemon = await s.daemon(box);
    chmodSync(dirname(box.socket), 0o755);
    chmodSync(box.socket, 0o666);
    const result = asNobody(box.socket);
    assert.equal(result.connected, true, 'the file system let it through this time');
    assert.equal(result.answer, '', 'but the daemon answered nothing');
    assert.notEqual(result.error, 'timeout', 'and hung up at once');
    await waitFor(() => /refused a connection from another user/.test(readLog(box)), 'the refusal in the log');
    const line = readLog(box).split('\n').find((l) => l.includes('refused a connection from another user'))!;
    assert.equal((JSON.parse(line) as { peerUid: number }).peerUid, NOBODY);
    // The owner is still served.
    const own = await new Promise<string>((resolve, reject) => {
      const c = connect(box.socket);
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'daemon/status', params: {} });
      let got = '';
      c.on('connect', () => c.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`));
      c.on('data', (d) => {
        got += d.toString();
        if (got.includes('"pid"')) {
          c.destroy();
          resolve(got);
        }
      });
      c.on('error', reject);
    });
    assert.match(own, new RegExp(`"pid":${daemon.pid}`));
  });
});

describe('another user on the restricted socket', () => {
  it('is refused by the same peer-credential check (folder 755, socket 666), and the daemon logs it', async (t) => {
    if (!skipUnless(t, setprivProblem())) return;
    const box = s.box();
    chmodSync(box.dir, 0o711);
    chmodSync(join(box.dir, 'run'), 0o711);
    await s.daemon(box);
    const restricted = restrictedSocket(box);
    chmodSync(dirname(restricted), 0o755);
    chmodSync(restricted, 0o666);
    const result = asNobody(restricted);
    assert.equal(result.connected, true, 'the file system let it through');
    assert.equal(result.answer, '', 'but the daemon answered nothing, not even the restricted-method error');
    assert.notEqual(result.error, 'timeout', 'and hung up at once');
    await waitFor(() => /refused a connection from another user/.test(readLog(box)), 'the refusal in the log');
  });
});

/**
 * A stranger's listener: answers every request as codexd would (the token it hands out is its own)
 * and reports each connection and every byte it receives on stdout, one JSON line each. With
 * `makeFolder` it first creates the socket's folder, mode 0777, as a squatter would.
 */
const STRANGER = `
  const net = require('net'), fs = require('fs'), path = require('path');
  const [socketPath, makeFolder] = JSON.parse(process.env.STRANGER);
  if (makeFolder) { process.umask(0); fs.mkdirSync(path.dirname(socketPath), { mode: 0o777 }); }
  const say = (event) => process.stdout.write(JSON.stringify(event) + '\\n');
  const results = {
    initialize: { serverInfo: { name: 'codexd', version: '0.1.0' }, protocolVersion: 1 },
    'account/token': { type: 'apiKey', apiKey: 'sk-handed-out-by-the-stranger-0123456789' },
    'account/read': { account: { type: 'apiKey' }, state: 'ok', accessTokenExpiresAt: null, lastRefresh: null, reauthReason: null, login: null },
    'daemon/status': { pid: process.pid, version: '0.1.0', uptimeS: 1, socket: socketPath, codexHome: '/', connections: 1, activation: 'bind', logFile: null },
  };
  let connections = 0;
  net.createServer((c) => {
    const n = ++connections;
    say({ accepted: n });
    let buffer = '';
    c.on('data', (d) => {
      say({ from: n, got: d.toString('latin1') });
      buffer += d.toString('latin1');
      for (;;) {
        const m = /^Content-Length: (\\d+)\\r\\n\\r\\n/.exec(buffer);
        if (!m || buffer.length < m[0].length + Number(m[1])) return;
        const message = JSON.parse(buffer.slice(m[0].length, m[0].length + Number(m[1])));
        buffer = buffer.slice(m[0].length + Number(m[1]));
        const body = JSON.stringify({ jsonrpc: '2.0', id: message.id, result: results[message.method] ?? {} });
        c.write('Content-Length: ' + Buffer.byteLength(body) + '\\r\\n\\r\\n' + body);
      }
    });
    c.on('error', () => undefined);
    c.on('close', () => say({ closed: n }));
  }).listen(socketPath, () => { fs.chmodSync(socketPath, 0o777); say({ ready: true }); });`;

interface Stranger {
  /** Everything clients sent, once every connection made so far has been read to its end (`at`: where its socket is now). */
  received(at: string): Promise<string>;
}

const strangers: Array<ReturnType<typeof spawn>> = [];
after(() => strangers.forEach((p) => p.kill('SIGKILL')));

async function startStranger(socketPath: string, options: { asNobody: boolean; makeFolder: boolean }): Promise<Stranger> {
  const node = [process.execPath, '-e', STRANGER];
  const argv = options.asNobody ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...node] : node;
  const proc = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env['PATH'], STRANGER: JSON.stringify([socketPath, options.makeFolder]) }, stdio: ['ignore', 'pipe', 'inherit'] });
  strangers.push(proc);
  const events: Array<{ ready?: true; accepted?: number; closed?: number; got?: string }> = [];
  let partial = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) events.push(JSON.parse(line) as (typeof events)[number]);
  });
  await waitFor(() => events.some((e) => e.ready), `the stranger to listen on ${socketPath}`);
  return {
    async received(at) {
      // Connections are accepted in order: once one made now is accepted and every accepted one
      // has closed, everything any client sent before is in `events`.
      const before = events.filter((e) => e.accepted).length;
      await new Promise<void>((resolve) => {
        const probe = connect(at);
        probe.on('connect', () => probe.destroy());
        probe.on('close', () => resolve());
        probe.on('error', () => undefined);
      });
      await waitFor(() => {
        const accepted = events.filter((e) => e.accepted).length;
        return accepted > before && accepted === events.filter((e) => e.closed).length;
      }, 'the stranger to read every connection to its end');
      return events.map((e) => e.got ?? '').join('');
    },
  };
}

const STRANGER_KEY = 'sk-typed-by-the-user-for-codexd-0123456789';
s.secret('API key typed by the user', STRANGER_KEY);

/**
 * Runs the clients that matter against `env`: a login that sends a key, `token`, `status`, and
 * the library. Each must refuse with one line naming `socketPath` and `owner`, exit 2, and send
 * nothing.
 */
async function assertNothingSent(box: Sandbox, env: NodeJS.ProcessEnv, socketPath: string, owner: RegExp, stranger: Stranger): Promise<void> {
  for (const args of [['login', '--with-api-key'], ['token'], ['status'], ['logout']]) {
    const run = await cli(box, args, { env, input: `${STRANGER_KEY}\n` });
    s.capture(`codex-auth ${args.join(' ')} at a stranger's socket`, run.stdout + run.stderr);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
    assert.equal(run.stdout, '', `${args.join(' ')} printed nothing of the stranger's`);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.ok(run.stderr.includes(socketPath), `${args.join(' ')} names the path: ${run.stderr}`);
    assert.match(run.stderr, owner, `${args.join(' ')} names the owner`);
  }
  const previous = { ...process.env };
  Object.assign(process.env, env);
  try {
    await assert.rejects(connectClient({ socket: socketPath, autostart: false }), (error: Error) => error instanceof SocketRefusedError && owner.test(error.message));
  } finally {
    for (const key of Object.keys(env)) if (previous[key] === undefined) delete process.env[key];
    Object.assign(process.env, previous);
  }
  assert.equal(await stranger.received(socketPath), '', 'not a byte reached the stranger');
}

describe('a stranger where a client looks for codexd', () => {
  it('a socket in a folder open to others gets nothing from any client', async () => {
    const box = s.box();
    // A folder like /tmp: sticky and open to everyone; refused. Inside the sandbox, so that it goes with it.
    const tmp = join(box.dir, 'tmp');
    mkdirSync(tmp);
    chmodSync(tmp, 0o1777);
    const socketPath = join(tmp, 'cxd-stranger.sock');
    const stranger = await startStranger(socketPath, { asNobody: false, makeFolder: false });
    await assertNothingSent(box, { CODEXD_SOCKET: socketPath }, socketPath, /\/tmp .*(owned by|has mode 1777)/, stranger);
  });

  it('another user who made <tmpdir>/codexd-<uid> first (XDG_RUNTIME_DIR unset) gets nothing from any client', async (t) => {
    if (!skipUnless(t, setprivProblem())) return;
    const box = s.box();
    chmodSync(box.dir, 0o711);
    const tmp = join(box.dir, 'tmp');
    mkdirSync(tmp);
    chmodSync(tmp, 0o1777);
    const socketPath = join(tmp, `codexd-${process.getuid!()}`, 'codexd.sock');
    const stranger = await startStranger(socketPath, { asNobody: true, makeFolder: true });
    // The default socket of a user without XDG_RUNTIME_DIR, CODEX_HOME or CODEXD_SOCKET.
    const env = { TMPDIR: tmp, XDG_RUNTIME_DIR: '', CODEXD_SOCKET: '', CODEX_HOME: '' };
    await assertNothingSent(box, env, socketPath, /owned by nobody \(uid 65534\)/, stranger);
  });

  it("another user's socket inside our own 0700 folder is refused by its owner, before a byte is sent", async (t) => {
    if (!skipUnless(t, setprivProblem())) return;
    const box = s.box();
    chmodSync(box.dir, 0o711);
    const theirs = join(box.dir, 'theirs');
    mkdirSync(theirs, { mode: 0o777 });
    chmodSync(theirs, 0o777);
    const stranger = await startStranger(join(theirs, 'codexd.sock'), { asNobody: true, makeFolder: false });
    // A bound socket keeps listening when its file is moved: now it sits where ours should be.
    mkdirSync(dirname(box.socket), { mode: 0o700 });
    renameSync(join(theirs, 'codexd.sock'), box.socket);
    await assertNothingSent(box, {}, box.socket, /runs as nobody \(uid 65534\)/, stranger);
  });

  it('autostart refuses a spawn lock that is a symlink, and creates nothing through it', async () => {
    const box = s.box();
    mkdirSync(dirname(box.socket), { mode: 0o700 });
    const target = join(box.dir, 'created-through-the-symlink');
    symlinkSync(target, `${box.socket}.spawn.lock`);
    const run = await cli(box, ['status']);
    s.capture('codex-auth status with a symlinked spawn lock', run.stdout + run.stderr);
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.match(run.stderr, /^codex-auth: cannot start codexd on .*ELOOP/);
    assert.equal(run.stderr.trim().split('\n').length, 1);
    assert.equal(existsSync(target), false, 'the symlink was not followed');
  });
});

describe('the socket path given to codexd', () => {
  it('a regular file or a directory there is refused with one line and exit status 2, and left as it was', { timeout: 60_000 }, async () => {
    const box = s.box();
    const folder = dirname(box.socket);
    mkdirSync(folder, { mode: 0o700 });
    const file = join(folder, 'notes.txt');
    writeFileSync(file, 'not a socket\n');
    const dir = join(folder, 'a-directory');
    mkdirSync(dir);
    for (const [path, what] of [[file, 'a regular file'], [dir, 'a directory']] as const) {
      s.ran(1);
      const daemon = await s.daemon(box, { args: ['--socket', path], waitReady: false });
      const { code } = await daemon.exited;
      s.capture('codexd at a socket path that is not a socket', daemon.stderr());
      assert.equal(code, 2, daemon.stderr());
      assert.equal(daemon.stderr().trim().split('\n').length, 1, daemon.stderr());
      assert.match(daemon.stderr(), new RegExp(`^codexd: ${path} is ${what}, not a socket; refusing to replace it`));
    }
    assert.equal(readFileSync(file, 'utf8'), 'not a socket\n');
    assert.ok(lstatSync(dir).isDirectory());
  });

  it('only the socket\'s own folder is created (0700), never missing parents above it', { timeout: 60_000 }, async () => {
    const box = s.box();
    const above = join(box.dir, 'run', 'missing');
    const daemon = await s.daemon(box, { args: ['--socket', join(above, 'codexd', 'codexd.sock')], waitReady: false });
    const { code } = await daemon.exited;
    s.capture('codexd at a socket path whose parents are missing', daemon.stderr());
    assert.equal(code, 2, daemon.stderr());
    assert.match(daemon.stderr(), /^codexd: cannot create the socket folder .*\/missing\/codexd: its parent folder does not exist/);
    assert.equal(existsSync(above), false, 'no parent folder was made');
    const served = await s.daemon(box);
    assert.equal(lstatSync(dirname(box.socket)).mode & 0o777, 0o700);
    await served.stop();
  });
});

/** Addresses of this machine other than 127.0.0.1 and ::1 to try the callback port on. */
function otherAddresses(): Array<{ host: string; family: 4 | 6 }> {
  const found: Array<{ host: string; family: 4 | 6 }> = [{ host: '127.0.0.2', family: 4 }];
  for (const list of Object.values(networkInterfaces())) {
    for (const address of list ?? []) {
      if (address.address === '127.0.0.1' || address.address === '::1' || address.address.startsWith('fe80')) continue;
      found.push({ host: address.address, family: address.family === 'IPv6' ? 6 : 4 });
    }
  }
  return found;
}

function refused(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = connect({ host, port });
    c.setTimeout(2000, () => {
      c.destroy();
      resolve('timeout');
    });
    c.on('connect', () => {
      c.destroy();
      resolve('connected');
    });
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

/** Listening TCP sockets on `port`, as the kernel lists them (address in /proc's hex form). */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '0A' && local?.endsWith(`:${hexPort}`)) found.push(local);
    }
  }
  return found;
}

describe('the log file', () => {
  it('an existing log file that others can read (0644) is made 0600 at start, and is appended to', async () => {
    const box = s.box();
    mkdirSync(dirname(box.logFile), { recursive: true, mode: 0o700 });
    writeFileSync(box.logFile, '{"msg":"an older line"}\n', { mode: 0o644 });
    chmodSync(box.logFile, 0o644); // whatever the umask
    await s.daemon(box);
    assert.equal((statSync(box.logFile).mode & 0o777).toString(8), '600');
    await waitFor(() => readLog(box).includes('codexd is ready'), 'the daemon to log that it is ready');
    assert.ok(readLog(box).startsWith('{"msg":"an older line"}'), 'the old lines are kept');
  });
});

describe('the login callback server', () => {
  it('listens on loopback only (127.0.0.1 and ::1), answers 403 to a wrong Host, and a forged callback with the wrong state changes nothing', async () => {
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_LOGIN_PORT: '0' });
    const old = fixture(issuer.mintTokens(), issuer.account);
    writeAtomically(box.codexHome, old.raw);
    await s.daemon(box);
    const { client: c, completed } = await s.watcher(box);
    const login = browserStart(await c.loginStart({ type: 'chatgpt' }));
    const base = `http://localhost:${login.port}`;

    const hexPort = login.port.toString(16).toUpperCase().padStart(4, '0');
    const loopback6 = networkInterfaces()['lo']?.some((a) => a.address === '::1') ? [`00000000000000000000000001000000:${hexPort}`] : [];
    assert.deepEqual(listeners(login.port), [`0100007F:${hexPort}`, ...loopback6], 'listeners on 127.0.0.1 and ::1 only');
    for (const { host } of otherAddresses()) {
      assert.equal(await refused(host, login.port), 'ECONNREFUSED', `nothing answers on ${host}:${login.port}`);
    }

    for (const host of [`evil.example:${login.port}`, 'localhost', `localhost:${login.port + 1}`, `127.0.0.1.nip.io:${login.port}`, `[::1]:${login.port}`, `0.0.0.0:${login.port}`]) {
      for (const path of [`/auth/callback?code=stolen-code-0123456789&state=${login.state}`, '/success', '/cancel']) {
        const reply = await httpGet(`${base}${path}`, { host });
        assert.equal(reply.status, 403, `Host ${host} ${path.split('?')[0]}`);
      }
    }

    for (const query of ['code=forged-code-0123456789&state=wrong-state', 'code=forged-code-0123456789', 'code=forged-code-0123456789&state=', `code=forged-code-0123456789&state=${login.state.slice(0, -1)}`, 'error=access_denied&state=nope']) {
      const reply = await httpGet(`${base}/auth/callback?${query}`);
      assert.equal(reply.status, 400, `forged callback ${query}: ${reply.status}`);
    }
    assert.equal(issuer.count('/oauth/token'), 0, 'no code was exchanged');
    assert.equal(readAuth(box), old.raw, 'auth.json is untouched');
    assert.deepEqual((await c.read()).login, { loginId: login.loginId, type: 'chatgpt' }, 'the login is still waiting');
    assert.deepEqual(completed.values, [], 'and has not ended');

    // The real callback still completes it.
    const callback = await consent(issuer, login.authUrl);
    const reply = await httpGet(callback);
    assert.equal(reply.status, 302);
    const done = await completed.next((e) => e.loginId === login.loginId);
    assert.deepEqual(done, { loginId: login.loginId, success: true, error: null });
    assert.notEqual(readAuth(box), old.raw);
  });
});
